// The metrics a result offers for comparison: one series of samples per
// metric (one sample per trial), with its unit, direction and kind. The
// kind decides how the gate treats it: exact figures (requests and bytes
// per operation) hold on any machine; error counts must not rise from 0;
// time holds only against a baseline measured side by side.

extension RunResult {
    /// The load was a fixed sequence of operations: `operations` set, one
    /// client thread, no warm-up, so it issues the same calls anywhere.
    public var isFixedSequence: Bool {
        guard case .object(let w) = workload, case .number? = w["operations"] else { return false }
        if case .number(let warm)? = w["warmup"], warm > 0 { return false }
        return threads == 1
    }
}

/// Samples of one metric across trials.
public struct MetricSeries: Equatable, Sendable {
    /// What a metric measures, which decides how it may be gated.
    public enum Kind: String, Sendable {
        /// Wall-clock time and what derives from it (throughput, latency,
        /// ratios of them): machine-dependent.
        case time
        /// Counts per operation that are the same on any machine with the
        /// same kernel (FUSE requests per operation by opcode, bytes per operation).
        case exact
        /// Failed operations: a count, or a rate per second.
        case errors
    }

    /// "smoke reference throughput", "smoke reference/native throughput".
    public var name: String { group + " " + measure }
    /// What was measured: workload, target and strategy ("smoke reference").
    public var group: String
    /// The measure within the group ("throughput", "LOOKUP requests/op").
    public var measure: String
    /// Unit of the samples.
    public var unit: String
    /// Which way is better.
    public var better: Better
    /// One value per trial.
    public var samples: [Double]
    /// A ratio of two targets measured side by side in one invocation.
    public var isRatio: Bool
    /// How the gate treats it.
    public var kind: Kind

    /// The median of the samples.
    public var median: Double { Statistics.median(samples) ?? .nan }

    /// Every metric in `doc`, by name; with `target`, only that target's
    /// runs, named without the target (for comparing two targets of one
    /// invocation side by side).
    public static func extract(_ doc: ResultDocument, target: String? = nil) -> [String: MetricSeries] {
        var out: [String: MetricSeries] = [:]
        func add(_ group: String, _ measure: String, _ unit: String, _ better: Better, _ v: Double,
                 kind: Kind = .time, ratio: Bool = false) {
            guard v.isFinite else { return }
            let s = MetricSeries(group: group, measure: measure, unit: unit, better: better, samples: [],
                                 isRatio: ratio, kind: kind)
            out[s.name, default: s].samples.append(v)
        }
        // The strategy names a run only where one workload and target ran
        // under several (a crash run compares with a clean one by name).
        var strategies: [String: Set<String>] = [:]
        for r in doc.runs { strategies["\(r.workloadName) \(r.target)", default: []].insert(r.strategy ?? "") }
        for r in doc.runs where target == nil || r.target == target {
            let several = (strategies["\(r.workloadName) \(r.target)"]?.count ?? 0) > 1
            let key = [r.workloadName, target == nil ? r.target : nil, several ? r.strategy : nil].compactMap { $0 }
                .joined(separator: " ")
            add(key, "throughput", "ops/s", .higher, r.total.throughput.value)
            add(key, "latency p50", "ns", .lower, Double(r.total.latency.p50))
            add(key, "latency p99", "ns", .lower, Double(r.total.latency.p99))
            let seconds = max(r.measuredSeconds, 1e-9)
            add(key, "errors", "ops", .lower, Double(r.total.errorCount), kind: .errors)
            add(key, "error rate", "errors/s", .lower, Double(r.total.errorCount) / seconds, kind: .errors)
            for (op, o) in r.operations {
                if o.count > 0 {
                    add(key, "\(op) throughput", "ops/s", .higher, o.throughput.value)
                    add(key, "\(op) latency p50", "ns", .lower, Double(o.latency.p50))
                    add(key, "\(op) latency p99", "ns", .lower, Double(o.latency.p99))
                }
                for (errno, n) in o.errors {
                    add(key, "\(op) errors \(errno)", "ops", .lower, Double(n), kind: .errors)
                    add(key, "\(op) error rate \(errno)", "errors/s", .lower, Double(n) / seconds, kind: .errors)
                }
            }
            // Exact only for a fixed sequence of operations: a time-bounded
            // load's mix varies with the machine's speed.
            if let a = r.accounting, r.isFixedSequence {
                // FORGETs come when the kernel evicts inodes, batched by
                // timing (FORGET or BATCH_FORGET): they are left out of the
                // exact figures.
                let exact = a.exactPerOperation
                add(key, "requests/op", "requests", .lower, exact.requests, kind: .exact)
                add(key, "request bytes/op", "B", .lower, exact.requestBytes, kind: .exact)
                add(key, "reply bytes/op", "B", .lower, exact.replyBytes, kind: .exact)
                add(key, "client bytes/op", "B", .higher,
                    Double(a.clientBytes) / Double(max(1, a.totalOperations)), kind: .exact)
                for (opcode, o) in a.opcodes where !RequestAccounting.timingDependent.contains(opcode) {
                    add(key, "\(opcode) requests/op", "requests", .lower, o.perOperation, kind: .exact)
                }
            }
            for (opcode, o) in r.server?.opcodes ?? [:] where o.serviceTime.count > 0 {
                add(key, "\(opcode) service p50", "ns", .lower, Double(o.serviceTime.p50))
            }
            if let faults = r.faults?.filter(\.triggered), !faults.isEmpty {
                if let m = Statistics.median(faults.compactMap { $0.outageToServerReply?.value }) {
                    add(key, "outage", "ns", .lower, m)
                }
                if let m = Statistics.median(faults.map(\.clientStall.value)) { add(key, "stall", "ns", .lower, m) }
            }
        }
        // A count a trial did not have (an errno, an opcode) was 0 in it.
        let trials = Dictionary(grouping: out.values.filter { $0.kind != .time }, by: { "\($0.group)|\($0.kind)" })
            .mapValues { $0.map(\.samples.count).max() ?? 0 }
        for (name, series) in out where series.kind != .time {
            let n = trials["\(series.group)|\(series.kind)"] ?? 0
            if series.samples.count < n {
                out[name]!.samples += [Double](repeating: 0, count: n - series.samples.count)
            }
        }
        guard target == nil else { return out }
        // Ratios reference/native, paired by trial.
        let paired = Dictionary(grouping: doc.runs.filter { $0.strategy == nil }) { "\($0.workloadName) \($0.trial ?? 0)" }
        for (_, group) in paired.sorted(by: { $0.key < $1.key }) {
            guard let ref = group.first(where: { $0.target == "reference" }),
                  let nat = group.first(where: { $0.target == "native" }),
                  ref.total.throughput.value > 0 || nat.total.throughput.value > 0 else { continue }
            let w = ref.workloadName
            add("\(w) reference/native", "throughput", "ratio", .higher,
                ref.total.throughput.value / nat.total.throughput.value, ratio: true)
            add("\(w) reference/native", "latency p50", "ratio", .lower,
                Double(ref.total.latency.p50) / Double(max(1, nat.total.latency.p50)), ratio: true)
        }
        return out
    }
}
