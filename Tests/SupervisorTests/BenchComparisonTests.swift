// Bench comparisons from run results: ratios of medians and the U test's
// p-value, on made-up throughputs (pure logic, no mount).
import Workload
import ResultModel
import Supervisor
import XCTest

final class BenchComparisonTests: XCTestCase {
    func run(_ target: String, _ opsPerSecond: Double) -> RunResult {
        let total = OperationResult(count: UInt64(opsPerSecond), throughput: Metric(opsPerSecond, unit: "ops/s", better: .higher),
                                    bandwidth: Metric(0, unit: "B/s", better: .higher),
                                    latency: LatencyDistribution(count: 1, min: 1, mean: 1e9 / opsPerSecond, p50: UInt64(1e9 / opsPerSecond),
                                                                 p90: 1, p99: UInt64(2e9 / opsPerSecond), p999: 1, max: 1),
                                    errors: [:])
        return RunResult(target: target, workload: .null, startedAt: "", measuredSeconds: 1, threads: 1, operations: [:],
                         total: total, timeline: Timeline(bucketMs: 10, completed: [1], errors: [0]), server: nil)
    }

    func testRatiosAreOfMediansAndSeparatedSamplesAreSignificant() {
        let runs = [100.0, 104, 98, 101, 99].map { run("peer", $0) } + [120.0, 125, 118, 122, 121].map { run("reference", $0) }
        let c = BenchPlan.compare("w", runs, target: "reference", baseline: "peer")
        XCTAssertEqual(c.ratios["throughput"]?.value ?? 0, 121.0 / 100.0, accuracy: 1e-9)
        XCTAssertEqual(c.ratios["latencyP50"]?.value ?? 0, Double(UInt64(1e9 / 121)) / Double(UInt64(1e9 / 100)), accuracy: 1e-9)
        XCTAssertNil(c.ratios["bandwidth"], "no bytes moved: no bandwidth ratio")
        XCTAssertEqual(c.throughputP ?? 1, 0.0079, accuracy: 0.001, "5 of 5 apart: exact p = 2/252")
    }

    func testOverlappingSamplesAreNotSignificantAndTooFewHaveNoP() {
        let mixed = [100.0, 110, 95, 105, 102].map { run("peer", $0) } + [101.0, 108, 97, 104, 99].map { run("reference", $0) }
        XCTAssertGreaterThan(BenchPlan.compare("w", mixed, target: "reference", baseline: "peer").throughputP ?? 0, 0.5)
        let two = [100.0, 101].map { run("peer", $0) } + [120.0, 121].map { run("reference", $0) }
        XCTAssertNil(BenchPlan.compare("w", two, target: "reference", baseline: "peer").throughputP)
    }
}
