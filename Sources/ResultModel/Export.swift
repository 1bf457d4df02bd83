// Result exports that CI tools read as they are: github-action-benchmark's
// custom JSON (one file for bigger-is-better metrics, one for
// smaller-is-better), Bencher Metric Format, and markdown tables.
import Foundation

/// Export formats.
public enum ExportFormat: String, CaseIterable, Sendable {
    /// github-action-benchmark, tool "customBiggerIsBetter".
    case githubBigger = "github-bigger"
    /// github-action-benchmark, tool "customSmallerIsBetter".
    case githubSmaller = "github-smaller"
    /// Bencher Metric Format.
    case bencher
    /// A markdown table of medians.
    case markdown
}

/// Renders results for other tools.
public enum Export {
    /// `doc` in `format`.
    public static func render(_ doc: ResultDocument, as format: ExportFormat) throws -> String {
        let series = MetricSeries.extract(doc).values.sorted { $0.name < $1.name }
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        switch format {
        case .githubBigger, .githubSmaller:
            struct Entry: Encodable { var name: String; var unit: String; var value: Double; var range: String?; var extra: String? }
            let want: Better = format == .githubBigger ? .higher : .lower
            let entries = series.filter { $0.better == want }.map { s -> Entry in
                let lo = s.samples.min() ?? s.median, hi = s.samples.max() ?? s.median
                return Entry(name: s.name, unit: s.unit, value: s.median,
                             range: s.samples.count > 1 ? String(format: "%.6g..%.6g", lo, hi) : nil,
                             extra: "median of \(s.samples.count) trial(s)")
            }
            return String(decoding: try enc.encode(entries), as: UTF8.self)
        case .bencher:
            struct Measure: Encodable { var value: Double; var lower_value: Double?; var upper_value: Double? }
            var out: [String: [String: Measure]] = [:]
            for s in series {
                // Benchmark = everything but the last word(s) naming the measure.
                let (bench, measure) = splitName(s.name)
                out[bench, default: [:]][measure] = Measure(value: s.median,
                                                            lower_value: s.samples.count > 1 ? s.samples.min() : nil,
                                                            upper_value: s.samples.count > 1 ? s.samples.max() : nil)
            }
            return String(decoding: try enc.encode(out), as: UTF8.self)
        case .markdown:
            var md = "| metric | median | unit | better | trials |\n|---|---:|---|---|---:|\n"
            for s in series {
                md += "| \(s.name) | \(String(format: "%.4g", s.median)) | \(s.unit) | \(s.better.rawValue) | \(s.samples.count) |\n"
            }
            return md
        }
    }

    /// "smoke reference latency p99" -> ("smoke reference", "latency-p99").
    static func splitName(_ name: String) -> (String, String) {
        for m in ["throughput", "latency p50", "latency p99", "errors", "outage", "stall"] where name.hasSuffix(" " + m) {
            return (String(name.dropLast(m.count + 1)), m.replacingOccurrences(of: " ", with: "-"))
        }
        return (name, "value")
    }

    /// A markdown table of gate findings, for a pull-request comment.
    public static func markdown(_ findings: [GateFinding]) -> String {
        var md = "| metric | baseline | current | change | threshold | p | verdict |\n|---|---:|---:|---:|---:|---:|---|\n"
        for f in findings {
            let mark = f.verdict == .regression ? "**regression**" : f.verdict.rawValue
            md += "| \(f.metric) | \(String(format: "%.4g", f.baseline)) | \(String(format: "%.4g", f.current)) | "
                + "\(String(format: "%+.1f%%", f.change * 100)) | \(String(format: "%.0f%%", f.threshold * 100)) | "
                + "\(String(format: "%.3f", f.p)) | \(mark) |\n"
        }
        return md
    }
}
