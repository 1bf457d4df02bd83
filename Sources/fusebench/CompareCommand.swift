// `fusebench compare`: metric by metric, how later results differ from the first.
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
        let series = docs.map(MetricSeries.extract)
        let names = series[0].keys.filter { n in series.dropFirst().contains { $0[n] != nil } }.sorted()
        let files = results.map { URL(fileURLWithPath: $0).lastPathComponent }
        var rows: [[String]] = [["metric", "unit"] + files.enumerated().map { $0 == 0 ? $1 : "\($1) (change)" }]
        for n in names {
            let base = series[0][n]!
            var row = [n, base.unit, fmt(base.median)]
            for s in series.dropFirst() {
                guard let c = s[n] else { row.append("-"); continue }
                let change = base.median != 0 ? (c.median - base.median) / abs(base.median) : 0
                let better = base.better == .higher ? change > 0 : change < 0
                let word = abs(change) < 0.005 ? "same" : (better ? "better" : "worse")
                row.append("\(fmt(c.median)) (\(String(format: "%+.1f%%", change * 100)) \(word))")
            }
            rows.append(row)
        }
        print(markdown ? markdownTable(rows) : textTable(rows), terminator: "")
    }

    private func fmt(_ v: Double) -> String { String(format: "%.4g", v) }

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
