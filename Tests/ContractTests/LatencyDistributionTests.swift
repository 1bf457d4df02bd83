// Percentiles from the server's log-linear buckets and from HDR histograms.
import CFuseShim
import Contract
import Histogram
import ResultModel
import XCTest

final class LatencyDistributionTests: XCTestCase {
    func testBucketsAreContiguousAndContainTheirValues() {
        for i in 0..<975 {
            XCTAssertEqual(fbshim_hist_upper(Int32(i)) &+ 1, fbshim_hist_lower(Int32(i + 1)), "bucket \(i)")
        }
        var v: UInt64 = 0
        while v < 1 << 40 {
            let i = fbshim_hist_index(v)
            XCTAssertLessThanOrEqual(fbshim_hist_lower(i), v)
            XCTAssertGreaterThanOrEqual(fbshim_hist_upper(i), v)
            // Relative width under 1/16 above the exact range.
            if v >= 16 { XCTAssertLessThanOrEqual(Double(fbshim_hist_upper(i) - fbshim_hist_lower(i)) / Double(v), 1.0 / 16) }
            v = v < 64 ? v + 1 : v + v / 7 + 1
        }
        XCTAssertEqual(fbshim_hist_index(UInt64.max), 975)
    }

    func testPercentilesFromBucketsAreWithinABucketOfTheTruth() {
        var buckets = [UInt64](repeating: 0, count: Int(FBSHIM_HIST_BUCKETS))
        var total: UInt64 = 0
        for v in UInt64(1)...10_000 {
            buckets[Int(fbshim_hist_index(v * 1000))] += 1
            total += v * 1000
        }
        let d = LatencyDistribution(buckets: buckets, totalNs: total, maxValue: 10_000_000)
        XCTAssertEqual(d.count, 10_000)
        XCTAssertEqual(d.mean, 5_000_500, accuracy: 1)
        for (got, want) in [(d.p50, 5_000_000.0), (d.p90, 9_000_000), (d.p99, 9_900_000), (d.p999, 9_990_000)] {
            XCTAssertGreaterThanOrEqual(Double(got), want)
            XCTAssertLessThanOrEqual(Double(got), want * (1 + 1.0 / 16))
        }
        XCTAssertEqual(d.max, 10_000_000)
        XCTAssertLessThanOrEqual(d.min, 1000)
    }

    func testEmptyBucketsGiveTheEmptyDistribution() {
        let d = LatencyDistribution(buckets: [UInt64](repeating: 0, count: 1024), totalNs: 0, maxValue: 0)
        XCTAssertEqual(d, .empty)
    }

    func testFromHDRHistogram() {
        var h = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 1_000_000_000,
                                  numberOfSignificantValueDigits: .three)
        for v in UInt64(1)...1000 { _ = h.record(v * 100) }
        let d = LatencyDistribution(h)
        XCTAssertEqual(d.count, 1000)
        XCTAssertEqual(Double(d.p50), 50_000, accuracy: 50)
        XCTAssertEqual(Double(d.p99), 99_000, accuracy: 100)
        XCTAssertEqual(Double(d.max), 100_000, accuracy: 100)
        XCTAssertEqual(d.unit, "ns")
        XCTAssertEqual(d.better, .lower)
    }
}
