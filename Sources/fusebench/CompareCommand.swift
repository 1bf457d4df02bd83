// `fusebench compare`: metric by metric, how later results differ from the first.
import Workload
import ArgumentParser
import Foundation
import ResultModel

/// Compares result files.
struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Compare results: per metric, the change against the first file and whether it is better or worse."
    )

    @Argument(help: "Result files; the first is the reference.")
    var results: [String]

    @Flag(help: "Print a markdown table instead of text.")
    var markdown = false

    func validate() throws {
        guard results.count >= 2 else { throw ValidationError("give at least two result files") }
    }

    func run() throws {
        let docs = try results.enumerated().map { try readResult($1, role: $0 == 0 ? "reference result" : "result") }
        let series = docs.map { MetricSeries.extract($0) }
        // Shared metrics, and every error metric of any file (0 where absent).
        var names = Set(series[0].keys.filter { n in series.dropFirst().contains { $0[n] != nil } })
        for s in series { names.formUnion(s.values.filter { $0.kind == .errors }.map(\.name)) }
        let files = results.map { URL(fileURLWithPath: $0).lastPathComponent }
        var rows: [[String]] = [["metric", "unit"] + files.enumerated().map { $0 == 0 ? $1 : "\($1) (change)" }]
        for n in names.sorted() {
            guard let any = series.lazy.compactMap({ $0[n] }).first else { continue }
            func median(_ s: [String: MetricSeries]) -> Double? {
                s[n]?.median ?? (any.kind == .errors && s["\(any.group) errors"] != nil ? 0 : nil)
            }
            guard let base = median(series[0]) else { continue }
            var row = [n, any.unit, Format.value(base, unit: any.unit)]
            for s in series.dropFirst() {
                guard let c = median(s) else { row.append("-"); continue }
                let change = base != 0 ? (c - base) / abs(base) : (c == base ? 0 : .infinity)
                var better = any.better == .higher ? c > base : c < base
                // A run that failed more operations is never the better one:
                // fewer successes, or fast failures, are not speed.
                let failedMore = (s["\(any.group) errors"]?.median ?? 0) > (series[0]["\(any.group) errors"]?.median ?? 0)
                var word = abs(change) < 0.005 ? "same" : (better ? "better" : "worse")
                if any.kind == .time && failedMore && better {
                    better = false
                    word = "not comparable: more failed operations"
                }
                let pct = change.isInfinite ? "rise from 0" : String(format: "%+.1f%%", change * 100)
                row.append("\(Format.value(c, unit: any.unit, scaleOf: base)) (\(pct) \(word))")
            }
            rows.append(row)
        }
        print(markdown ? markdownTable(rows) : textTable(rows), terminator: "")
    }

    private func textTable(_ rows: [[String]]) -> String {
        let widths = (0..<rows[0].count).map { c in rows.map { $0[c].count }.max()! }
        return rows.map { r in zip(r, widths).map { $0 + String(repeating: " ", count: $1 - $0.count) }
            .joined(separator: "  ") }.joined(separator: "\n") + "\n"
    }

    private func markdownTable(_ rows: [[String]]) -> String {
        var out = "| " + rows[0].joined(separator: " | ") + " |\n|" + rows[0].map { _ in "---" }.joined(separator: "|") + "|\n"
        for r in rows.dropFirst() { out += "| " + r.joined(separator: " | ") + " |\n" }
        return out
    }
}
