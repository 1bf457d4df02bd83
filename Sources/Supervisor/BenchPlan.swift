// `fusebench bench`: the standard workloads on the reference server and on
// the native backing directory, interleaved, repeated, and reduced to
// ratios measured side by side in one invocation.
import Foundation
import ResultModel

/// Runs the benchmark matrix.
public enum BenchPlan {
    /// Runs every workload on native and reference `repeats` times,
    /// alternating targets, and returns the runs and their ratios.
    public static func run(_ workloads: [Workload], repeats: Int, executable: String,
                           reporter: RunReporter) throws -> ([RunResult], [Comparison]) {
        var runs: [RunResult] = []
        var comparisons: [Comparison] = []
        for w in workloads {
            var mine: [RunResult] = []
            for i in 0..<repeats {
                // Alternate which target goes first, so drift favours neither.
                let order: [Target] = i % 2 == 0 ? [.native, .reference] : [.reference, .native]
                for t in order {
                    var r = try RunCoordinator.run(w, target: t, executable: executable, reporter: reporter)
                    r.trial = i
                    mine.append(r)
                }
            }
            runs += mine
            comparisons.append(compare(w.name, mine))
        }
        return (runs, comparisons)
    }

    /// Ratios reference/native of the medians over repeats.
    public static func compare(_ name: String, _ runs: [RunResult]) -> Comparison {
        func median(_ target: String, _ f: (RunResult) -> Double) -> Double {
            Statistics.median(runs.filter { $0.target == target }.map(f)) ?? .nan
        }
        func ratio(_ f: (RunResult) -> Double) -> Double {
            let b = median("native", f)
            return b > 0 ? median("reference", f) / b : .nan
        }
        let ratios: [String: Metric] = [
            "throughput": Metric(ratio { $0.total.throughput.value }, unit: "ratio", better: .higher),
            "bandwidth": Metric(ratio { $0.total.bandwidth.value }, unit: "ratio", better: .higher),
            "latencyP50": Metric(ratio { Double($0.total.latency.p50) }, unit: "ratio", better: .lower),
            "latencyP99": Metric(ratio { Double($0.total.latency.p99) }, unit: "ratio", better: .lower),
        ]
        // A ratio of nothing (no bytes moved) is left out rather than NaN.
        return Comparison(workload: name, target: "reference", baseline: "native",
                          ratios: ratios.filter { $0.value.value.isFinite })
    }
}
