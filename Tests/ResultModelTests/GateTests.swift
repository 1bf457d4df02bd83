// The gate's decisions on synthetic results with known samples.
import ResultModel
import XCTest

/// Builds result documents with given per-trial throughputs.
enum Synthetic {
    static func run(_ target: String, throughput: Double, p50: UInt64, trial: Int) -> RunResult {
        let lat = LatencyDistribution(count: 10, min: 1, mean: Double(p50), p50: p50, p90: p50, p99: p50 * 2,
                                      p999: p50 * 2, max: p50 * 3)
        let op = OperationResult(count: 10, throughput: .opsPerSecond(throughput), bandwidth: .bytesPerSecond(0),
                                 latency: lat, errors: [:])
        var r = RunResult(target: target, workload: .object(["name": .string("w")]), startedAt: "2026-01-01T00:00:00Z",
                          measuredSeconds: 1, threads: 1, operations: ["stat": op], total: op,
                          timeline: Timeline(bucketMs: 10, completed: [1], errors: [0]), server: nil)
        r.trial = trial
        return r
    }

    /// Trials with reference/native throughput ratios `ratios` (native 1000).
    static func doc(ratios: [Double]) -> ResultDocument {
        var runs: [RunResult] = []
        for (i, q) in ratios.enumerated() {
            runs.append(run("native", throughput: 1000, p50: 1000, trial: i))
            runs.append(run("reference", throughput: 1000 * q, p50: UInt64(1000 / q), trial: i))
        }
        return ResultDocument(kind: "bench", tool: ToolIdentity(name: "fusebench", version: "0", gitRevision: nil),
                              command: [], environment: .current(), runs: runs)
    }
}

final class GateTests: XCTestCase {
    func testUnchangedPasses() {
        let f = Gate.evaluate(baseline: Synthetic.doc(ratios: [0.30, 0.31, 0.29, 0.30, 0.32]),
                              current: Synthetic.doc(ratios: [0.31, 0.29, 0.30, 0.31, 0.30]))
        XCTAssertEqual(Set(f.map(\.metric)), ["w reference/native throughput", "w reference/native latency p50"],
                       "ratios are preferred")
        XCTAssertTrue(f.allSatisfy { $0.verdict == .unchanged })
    }

    func testSlowdownIsARegression() {
        let f = Gate.evaluate(baseline: Synthetic.doc(ratios: [0.30, 0.31, 0.29, 0.30, 0.32]),
                              current: Synthetic.doc(ratios: [0.15, 0.16, 0.14, 0.15, 0.15]))
        let t = f.first { $0.metric == "w reference/native throughput" }!
        XCTAssertEqual(t.verdict, .regression)
        XCTAssertEqual(t.change, -0.5, accuracy: 0.01)
        XCTAssertLessThan(t.p, 0.05)
    }

    func testSpeedupIsAnImprovement() {
        let f = Gate.evaluate(baseline: Synthetic.doc(ratios: [0.30, 0.31, 0.29, 0.30, 0.32]),
                              current: Synthetic.doc(ratios: [0.60, 0.61, 0.62, 0.59, 0.60]))
        XCTAssertEqual(f.first { $0.metric == "w reference/native throughput" }?.verdict, .improvement)
    }

    func testALargeButInsignificantChangeIsNoise() {
        // Medians 40 % apart, but the samples overlap: not significant.
        let f = Gate.evaluate(baseline: Synthetic.doc(ratios: [0.10, 0.50, 0.52, 0.9, 0.2]),
                              current: Synthetic.doc(ratios: [0.31, 0.95, 0.12, 0.6, 0.25]))
        XCTAssertEqual(f.first { $0.metric == "w reference/native throughput" }?.verdict, .noise)
    }

    func testThresholdsPerMetric() {
        var c = GateConfig()
        c.thresholds["throughput"] = 0.6
        let f = Gate.evaluate(baseline: Synthetic.doc(ratios: [0.30, 0.31, 0.29, 0.30, 0.32]),
                              current: Synthetic.doc(ratios: [0.15, 0.16, 0.14, 0.15, 0.15]), config: c)
        XCTAssertEqual(f.first { $0.metric == "w reference/native throughput" }?.verdict, .unchanged)
    }
}
