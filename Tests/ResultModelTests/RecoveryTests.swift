// Throughput recovery on synthetic timelines.
import ResultModel
import XCTest

final class RecoveryTests: XCTestCase {
    func timeline(_ counts: [UInt64]) -> Timeline {
        Timeline(bucketMs: 10, completed: counts, errors: [UInt64](repeating: 0, count: counts.count))
    }

    func testRecoveryIsMeasuredToTheEndOfTheFirstGoodBucket() {
        // 1 s at 100/bucket, a fault at 1.005 s, 3 empty buckets, then back.
        let t = timeline([UInt64](repeating: 100, count: 100) + [40, 0, 0, 0, 95, 100, 100])
        XCTAssertEqual(Recovery.timeToThroughput(t, faultNs: 1_005_000_000, limitNs: 2_000_000_000), 45_000_000)
    }

    func testNoRecoveryBeforeTheLimit() {
        let t = timeline([UInt64](repeating: 100, count: 100) + [0, 0, 0, 50, 60])
        XCTAssertNil(Recovery.timeToThroughput(t, faultNs: 1_000_000_000, limitNs: 1_050_000_000))
    }

    func testNoBaselineNoAnswer() {
        XCTAssertNil(Recovery.timeToThroughput(timeline([0, 0, 5]), faultNs: 0, limitNs: 30_000_000))
        XCTAssertNil(Recovery.timeToThroughput(timeline([0, 0, 0, 5]), faultNs: 25_000_000, limitNs: 40_000_000))
    }
}
