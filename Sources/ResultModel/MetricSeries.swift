// The metrics a result offers for comparison: one series of samples per
// metric (one sample per trial), with its unit and direction.

/// Samples of one metric across trials.
public struct MetricSeries: Equatable, Sendable {
    /// "smoke reference throughput", "smoke reference/native throughput".
    public var name: String
    /// Unit of the samples.
    public var unit: String
    /// Which way is better.
    public var better: Better
    /// One value per trial.
    public var samples: [Double]
    /// A ratio of two targets measured side by side in one invocation:
    /// the kind of metric the gate prefers.
    public var isRatio: Bool

    /// The median of the samples.
    public var median: Double { Statistics.median(samples) ?? .nan }

    /// Every metric in `doc`, by name.
    public static func extract(_ doc: ResultDocument) -> [String: MetricSeries] {
        var out: [String: MetricSeries] = [:]
        func add(_ name: String, _ unit: String, _ better: Better, _ v: Double, ratio: Bool = false) {
            guard v.isFinite else { return }
            out[name, default: MetricSeries(name: name, unit: unit, better: better, samples: [], isRatio: ratio)]
                .samples.append(v)
        }
        for r in doc.runs {
            let key = [r.workloadName, r.target, r.strategy].compactMap { $0 }.joined(separator: " ")
            add("\(key) throughput", "ops/s", .higher, r.total.throughput.value)
            add("\(key) latency p50", "ns", .lower, Double(r.total.latency.p50))
            add("\(key) latency p99", "ns", .lower, Double(r.total.latency.p99))
            if let faults = r.faults?.filter(\.triggered), !faults.isEmpty {
                add("\(key) errors", "ops", .lower, Double(r.total.errorCount))
                if let m = Statistics.median(faults.compactMap { $0.outageToServerReply?.value }) {
                    add("\(key) outage", "ns", .lower, m)
                }
                if let m = Statistics.median(faults.map(\.clientStall.value)) { add("\(key) stall", "ns", .lower, m) }
            }
        }
        // Ratios reference/native, paired by trial.
        let paired = Dictionary(grouping: doc.runs.filter { $0.strategy == nil }) { "\($0.workloadName) \($0.trial ?? 0)" }
        for (_, group) in paired.sorted(by: { $0.key < $1.key }) {
            guard let ref = group.first(where: { $0.target == "reference" }),
                  let nat = group.first(where: { $0.target == "native" }) else { continue }
            let w = ref.workloadName
            add("\(w) reference/native throughput", "ratio", .higher,
                ref.total.throughput.value / nat.total.throughput.value, ratio: true)
            add("\(w) reference/native latency p50", "ratio", .lower,
                Double(ref.total.latency.p50) / Double(max(1, nat.total.latency.p50)), ratio: true)
        }
        return out
    }
}
