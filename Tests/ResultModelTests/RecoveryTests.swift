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

    func testOneMillisecondBucketsFindTheRecoveryToTheMillisecond() {
        // 10 operations a ms, a fault at 1.0003 s and 2 ms without any: the
        // 50 ms from 1.001 s hold 49 ms of the load, 98 % of it. In 10-ms
        // buckets the same load could show it only from the next bucket.
        let fine = Timeline(bucketMs: 1, completed: [UInt64](repeating: 10, count: 1000) + [0, 0]
                                + [UInt64](repeating: 10, count: 200), errors: [UInt64](repeating: 0, count: 1202))
        XCTAssertEqual(Recovery.timeToThroughput(fine, faultNs: 1_000_300_000, limitNs: 1_200_000_000), 700_000)
        let coarse = timeline([UInt64](repeating: 100, count: 100) + [80] + [UInt64](repeating: 100, count: 20))
        XCTAssertEqual(Recovery.timeToThroughput(coarse, faultNs: 1_000_300_000, limitNs: 1_200_000_000), 9_700_000)
        // A longer dip, to the millisecond too: 30 ms at half the rate, then
        // the load; the first span at 90 % starts at 1.020 s (10 ms at half
        // the rate and 40 at the full: 450 of 500).
        let dip = Timeline(bucketMs: 1, completed: [UInt64](repeating: 10, count: 1000) + [UInt64](repeating: 5, count: 30)
                               + [UInt64](repeating: 10, count: 200), errors: [UInt64](repeating: 0, count: 1230))
        XCTAssertEqual(Recovery.timeToThroughput(dip, faultNs: 1_000_000_000, limitNs: 1_230_000_000), 20_000_000)
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
        XCTAssertEqual(Recovery.outcome(t, faultNs: 1_000_000_000, limitNs: 1_070_000_000), .notWithin(70_000_000))
    }

    func testNoBaselineNoAnswer() {
        XCTAssertEqual(Recovery.outcome(timeline([0, 0, 5]), faultNs: 0, limitNs: 30_000_000), .noBaseline)
        XCTAssertNil(Recovery.timeToThroughput(timeline([0, 0, 5]), faultNs: 0, limitNs: 30_000_000))
        XCTAssertNil(Recovery.timeToThroughput(timeline([0, 0, 0, 0, 0, 0, 0, 5]), faultNs: 65_000_000,
                                               limitNs: 80_000_000))
    }

    func testTheControlIsTakenHalfwayBetweenFaultsWhereTheLoadDidNotDip() {
        // Faults at 1.005, 2.005 and 3.005 s, each followed by 60 ms at a
        // tenth of the rate: every fault recovers 55 ms later (the first span
        // without a slow bucket, from 1.060 s on), and the control instants at 1.505 and 2.505 s,
        // where the load ran on, recover at the next bucket (5 ms).
        var counts = [UInt64](repeating: 100, count: 400)
        for f in [100, 200, 300] { for b in f..<(f + 6) { counts[b] = 10 } }
        let t = timeline(counts)
        let faults: [UInt64] = [1_005_000_000, 2_005_000_000, 3_005_000_000]
        for (n, f) in faults.enumerated() {
            XCTAssertEqual(Recovery.timeToThroughput(t, faultNs: f, limitNs: n + 1 < faults.count ? faults[n + 1] : 4_000_000_000),
                           55_000_000, "fault \(n)")
        }
        XCTAssertEqual(Recovery.controlTimeToThroughput(t, faultsNs: faults), 5_000_000)
        // A load that dips halfway between faults too shows it in the control.
        for m in [150, 250] { for b in m..<(m + 6) { counts[b] = 10 } }
        XCTAssertEqual(Recovery.controlTimeToThroughput(timeline(counts), faultsNs: faults), 55_000_000)
    }

    func testNoControlWithoutTwoFaults() {
        let t = timeline([UInt64](repeating: 100, count: 300))
        XCTAssertNil(Recovery.controlTimeToThroughput(t, faultsNs: [1_005_000_000]))
        XCTAssertNil(Recovery.controlTimeToThroughput(t, faultsNs: []))
    }

    /// The summary's recovery is the median over every fault, one that was
    /// not back before the next counting as longer than any that was.
    func testAFaultNotBackCountsAsLongerThanAnyInTheSummary() {
        func run(_ outcomes: [Recovery.Outcome]) -> StrategySummary {
            var r = Synthetic.run("srv", throughput: 100, p50: 1000, trial: 0)
            r.faults = outcomes.enumerated().map { i, o in
                var f = FaultEvent(index: i, kind: "kill", detail: nil, atSeconds: Double(i + 1))
                f.triggered = true
                switch o {
                case .recovered(let ns): f.recoveryToThroughput = .nanoseconds(ns)
                case .notWithin(let ns): f.notRecoveredWithin = .nanoseconds(ns)
                case .noBaseline: break
                }
                return f
            }
            return StrategySummary(r)
        }
        // Left out, the two not back would have made it 10 ms.
        XCTAssertEqual(run([.recovered(10_000_000), .notWithin(990_000_000), .notWithin(990_000_000)]).recovery,
                       .infinity)
        XCTAssertEqual(run([.recovered(10_000_000), .recovered(30_000_000), .notWithin(990_000_000)]).recovery,
                       30_000_000)
        // A fault without a baseline has no say.
        XCTAssertEqual(run([.recovered(10_000_000), .noBaseline]).recovery, 10_000_000)
    }
}
