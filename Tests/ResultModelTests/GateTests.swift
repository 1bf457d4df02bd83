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
                              command: [], environment: .fixture, runs: runs)
    }
}

/// Time gated, as for a baseline measured side by side.
let timed: GateConfig = {
    var c = GateConfig()
    c.gateTime = true
    return c
}()

final class GateTests: XCTestCase {
    func testUnchangedPasses() {
        let f = Gate.evaluate(baseline: Synthetic.doc(ratios: [0.30, 0.31, 0.29, 0.30, 0.32]),
                              current: Synthetic.doc(ratios: [0.31, 0.29, 0.30, 0.31, 0.30]), config: timed)
        XCTAssertTrue(f.contains { $0.metric == "w reference/native throughput" })
        XCTAssertTrue(f.allSatisfy { $0.verdict == .unchanged }, "\(f.filter { $0.verdict != .unchanged })")
    }

    func testTimeAgainstABaselineFromElsewhereIsReportedNotGated() {
        let f = Gate.evaluate(baseline: Synthetic.doc(ratios: [0.30, 0.31, 0.29, 0.30, 0.32]),
                              current: Synthetic.doc(ratios: [0.15, 0.16, 0.14, 0.15, 0.15]))
        let t = f.first { $0.metric == "w reference/native throughput" }!
        XCTAssertEqual(t.verdict, .reported)
        XCTAssertFalse(f.contains { $0.verdict == .regression })
    }

    func testExactFiguresRegressOnAnyChangeBeyondRounding() {
        func doc(flushPerOp: Double, lookups: Double) -> ResultDocument {
            var d = Synthetic.doc(ratios: [0.3])
            // A fixed sequence of operations: its figures are exact.
            d.runs[1].workload = .object(["name": .string("w"), "operations": .number(1000), "warmup": .number(0)])
            let before: [String: OpcodeReport] = [:]
            func rep(_ n: UInt64) -> OpcodeReport {
                OpcodeReport(count: n, errors: 0, serviceTime: .empty, received: n, requestBytes: n * 40, replyBytes: n * 16)
            }
            var after = ["LOOKUP": rep(UInt64(lookups * 1000))]
            if flushPerOp > 0 { after["FLUSH"] = rep(UInt64(flushPerOp * 1000)) }
            d.runs[1].accounting = RequestAccounting(clientOperations: ["stat": 1000], clientBytes: 0, before: before,
                                                     after: after, notificationBytes: nil)
            return d
        }
        let base = doc(flushPerOp: 0, lookups: 3)
        XCTAssertTrue(Gate.evaluate(baseline: base, current: doc(flushPerOp: 0, lookups: 3))
            .filter { $0.kind == .exact }.allSatisfy { $0.verdict == .unchanged })
        let flush = Gate.evaluate(baseline: base, current: doc(flushPerOp: 0.3, lookups: 3))
        XCTAssertEqual(flush.first { $0.metric == "w reference FLUSH requests/op" }?.verdict, .regression,
                       "a new opcode (absent from the baseline) is a rise from 0")
        let more = Gate.evaluate(baseline: base, current: doc(flushPerOp: 0, lookups: 3.1))
        XCTAssertEqual(more.first { $0.metric == "w reference LOOKUP requests/op" }?.verdict, .regression)
        let fewer = Gate.evaluate(baseline: base, current: doc(flushPerOp: 0, lookups: 2))
        XCTAssertEqual(fewer.first { $0.metric == "w reference LOOKUP requests/op" }?.verdict, .improvement)
        XCTAssertEqual(Gate.evaluate(baseline: base, current: doc(flushPerOp: 0, lookups: 3.02))
            .first { $0.metric == "w reference LOOKUP requests/op" }?.verdict, .unchanged, "within 1 %")
    }

    func testAnyRiseOfErrorsFromZeroIsARegression() {
        let base = Synthetic.doc(ratios: [0.3, 0.3, 0.3])
        var cur = Synthetic.doc(ratios: [0.3, 0.3, 0.3])
        for i in cur.runs.indices where cur.runs[i].target == "reference" {
            cur.runs[i].operations["stat"]!.errors = ["EIO": 2]
            cur.runs[i].total.errors = ["EIO": 2]
        }
        let f = Gate.evaluate(baseline: base, current: cur)
        XCTAssertEqual(f.first { $0.metric == "w reference errors" }?.verdict, .regression)
        XCTAssertEqual(f.first { $0.metric == "w reference stat errors EIO" }?.verdict, .regression,
                       "an errno the baseline never had counts from 0")
        XCTAssertEqual(f.first { $0.metric == "w native errors" }?.verdict, .unchanged)
    }

    func testEnvironmentNoteNamesBothKernels() {
        var a = EnvironmentInfo.fixture, b = a
        XCTAssertNil(Gate.environmentNote(baseline: a, current: b))
        a.kernel = "6.18.44-one"
        b.kernel = "6.18.44-two"
        let note = Gate.environmentNote(baseline: a, current: b) ?? ""
        XCTAssertTrue(note.contains("6.18.44-one") && note.contains("6.18.44-two") && note.contains("libfuse"), note)
    }

    func testSlowdownIsARegression() {
        let f = Gate.evaluate(baseline: Synthetic.doc(ratios: [0.30, 0.31, 0.29, 0.30, 0.32]),
                              current: Synthetic.doc(ratios: [0.15, 0.16, 0.14, 0.15, 0.15]), config: timed)
        let t = f.first { $0.metric == "w reference/native throughput" }!
        XCTAssertEqual(t.verdict, .regression)
        XCTAssertEqual(t.change, -0.5, accuracy: 0.01)
        XCTAssertLessThan(t.p ?? 1, 0.05)
    }

    func testSpeedupIsAnImprovement() {
        let f = Gate.evaluate(baseline: Synthetic.doc(ratios: [0.30, 0.31, 0.29, 0.30, 0.32]),
                              current: Synthetic.doc(ratios: [0.60, 0.61, 0.62, 0.59, 0.60]), config: timed)
        XCTAssertEqual(f.first { $0.metric == "w reference/native throughput" }?.verdict, .improvement)
    }

    func testALargeButInsignificantChangeIsNoise() {
        // Medians 40 % apart, but the samples overlap: not significant.
        let f = Gate.evaluate(baseline: Synthetic.doc(ratios: [0.10, 0.50, 0.52, 0.9, 0.2]),
                              current: Synthetic.doc(ratios: [0.31, 0.95, 0.12, 0.6, 0.25]), config: timed)
        XCTAssertEqual(f.first { $0.metric == "w reference/native throughput" }?.verdict, .noise)
    }

    func testThresholdsPerMetric() {
        var c = timed
        c.thresholds["throughput"] = 0.6
        let f = Gate.evaluate(baseline: Synthetic.doc(ratios: [0.30, 0.31, 0.29, 0.30, 0.32]),
                              current: Synthetic.doc(ratios: [0.15, 0.16, 0.14, 0.15, 0.15]), config: c)
        XCTAssertEqual(f.first { $0.metric == "w reference/native throughput" }?.verdict, .unchanged)
    }
}
