// The short human summary printed at the end of a run.
import Foundation
import ResultModel

enum Summary {
    /// A table of every run's operations.
    static func text(_ doc: ResultDocument) -> String {
        var out = ""
        for run in doc.runs {
            out += "\(run.workloadName) on \(run.target): \(run.threads) threads, "
                + String(format: "%.2f s measured", run.measuredSeconds) + "\n"
            out += pad("operation", 10) + pad("ops", 10, right: true) + pad("ops/s", 12, right: true)
                + pad("MiB/s", 9, right: true) + pad("p50", 10, right: true) + pad("p99", 10, right: true)
                + pad("p99.9", 10, right: true) + pad("max", 10, right: true) + "  errors\n"
            let rows = run.operations.sorted { $0.key < $1.key } + [("total", run.total)]
            for (name, r) in rows {
                let errs = r.errors.isEmpty ? "0"
                    : r.errors.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
                out += pad(name, 10) + pad("\(r.count)", 10, right: true)
                    + pad(String(format: "%.0f", r.throughput.value), 12, right: true)
                    + pad(String(format: "%.1f", r.bandwidth.value / 1_048_576), 9, right: true)
                    + pad(ns(r.latency.p50), 10, right: true) + pad(ns(r.latency.p99), 10, right: true)
                    + pad(ns(r.latency.p999), 10, right: true) + pad(ns(r.latency.max), 10, right: true)
                    + "  " + errs + "\n"
            }
            if let s = run.server {
                let top = s.opcodes.sorted { $0.value.count > $1.value.count }.prefix(6)
                    .map { "\($0.key) \($0.value.count)" }.joined(separator: ", ")
                out += "server: \(s.requests) requests (\(top))"
                    + (s.fuseProtocol.map { ", FUSE protocol \($0)" } ?? "") + "\n"
            }
            out += "\n"
        }
        if let cs = doc.comparisons {
            out += "reference / native (median of repeats):\n"
            out += pad("workload", 14) + pad("throughput", 12, right: true) + pad("p50", 10, right: true)
                + pad("p99", 10, right: true) + "\n"
            for c in cs {
                func r(_ k: String) -> String { c.ratios[k].map { String(format: "%.2fx", $0.value) } ?? "-" }
                out += pad(c.workload, 14) + pad(r("throughput"), 12, right: true) + pad(r("latencyP50"), 10, right: true)
                    + pad(r("latencyP99"), 10, right: true) + "\n"
            }
        }
        return out
    }

    /// Nanoseconds in a readable unit.
    static func ns(_ v: UInt64) -> String {
        switch v {
        case ..<10_000: return "\(v)ns"
        case ..<10_000_000: return String(format: "%.1fus", Double(v) / 1e3)
        case ..<10_000_000_000: return String(format: "%.1fms", Double(v) / 1e6)
        default: return String(format: "%.1fs", Double(v) / 1e9)
        }
    }

    static func pad(_ s: String, _ n: Int, right: Bool = false) -> String {
        let p = String(repeating: " ", count: max(0, n - s.count))
        return right ? p + s : s + p
    }
}
