// Throughput recovery on synthetic timelines.
import ResultModel
import XCTest

final class RecoveryTests: XCTestCase {
    func timeline(_ counts: [UInt64]) -> Timeline {
        Timeline(bucketMs: 10, completed: counts, errors: [UInt64](repeating: 0, count: counts.count))
    }

    func testRecoveryIsMeasuredToTheStartOfTheFirstGoodSpan() {
        // 1 s at 100/bucket, a fault at 1.005 s, 3 empty buckets, then back:
        // the span from 1.040 s on is the first at 90 %.
        let t = timeline([UInt64](repeating: 100, count: 100) + [40, 0, 0, 0, 95, 100, 100, 100, 100, 100])
        XCTAssertEqual(Recovery.timeToThroughput(t, faultNs: 1_005_000_000, limitNs: 2_000_000_000), 35_000_000)
    }

    func testOneGoodBucketIsNotARecovery() {
        // A lone full bucket among slow ones does not make a span.
        let t = timeline([UInt64](repeating: 100, count: 100) + [0, 100, 0, 50, 50, 50, 100, 100, 100, 100, 100, 100])
        XCTAssertEqual(Recovery.timeToThroughput(t, faultNs: 1_000_000_000, limitNs: 2_000_000_000), 50_000_000)
    }

    func testANoisyBaselineIsJudgedBySpans() {
        // Buckets alternate 80 and 120 (mean 100): after the fault the same
        // pattern is a recovery at once, though half its buckets are below 90.
        let noisy = (0..<100).map { UInt64($0 % 2 == 0 ? 80 : 120) }
        let t = timeline(noisy + [0] + (0..<20).map { UInt64($0 % 2 == 0 ? 80 : 120) })
        XCTAssertEqual(Recovery.timeToThroughput(t, faultNs: 1_000_000_000, limitNs: 2_000_000_000), 10_000_000)
    }

    func testNoRecoveryBeforeTheLimit() {
        let t = timeline([UInt64](repeating: 100, count: 100) + [0, 0, 0, 50, 60, 100, 100, 100, 100, 100])
        XCTAssertNil(Recovery.timeToThroughput(t, faultNs: 1_000_000_000, limitNs: 1_070_000_000))
    }

    func testNoBaselineNoAnswer() {
        XCTAssertNil(Recovery.timeToThroughput(timeline([0, 0, 5]), faultNs: 0, limitNs: 30_000_000))
        XCTAssertNil(Recovery.timeToThroughput(timeline([0, 0, 0, 0, 0, 0, 0, 5]), faultNs: 65_000_000,
                                               limitNs: 80_000_000))
    }
}
