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
    /// CSV, one row per run and operation (and its total): the run's
    /// labels, then counts, rates and latency percentiles (fio's habit).
    case csv
    /// CSV, one row per metric: median, mean, standard deviation, min and
    /// max over the trials, and the samples.
    case csvMetrics = "csv-metrics"
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
                let (bench, measure) = (s.group, s.measure.replacingOccurrences(of: " ", with: "-"))
                out[bench, default: [:]][measure] = Measure(value: s.median,
                                                            lower_value: s.samples.count > 1 ? s.samples.min() : nil,
                                                            upper_value: s.samples.count > 1 ? s.samples.max() : nil)
            }
            return String(decoding: try enc.encode(out), as: UTF8.self)
        case .markdown:
            var md = "| metric | kind | median | mean ± sd | better | trials |\n|---|---|---:|---:|---|---:|\n"
            for s in series {
                let (mean, sd) = Statistics.meanAndDeviation(s.samples)
                md += "| \(s.name) | \(s.kind.rawValue) | \(Format.value(s.median, unit: s.unit)) | "
                    + "\(Format.value(mean, unit: s.unit)) ± \(Format.value(sd, unit: s.unit)) | "
                    + "\(s.better.rawValue) | \(s.samples.count) |\n"
            }
            return md
        case .csv:
            var rows = [["workload", "target", "strategy", "sweep", "trial", "operation", "ops", "failed",
                         "ops_per_s", "bytes_per_s", "lat_mean_ns", "lat_p50_ns", "lat_p90_ns", "lat_p99_ns",
                         "lat_p999_ns", "lat_max_ns", "measured_s"]]
            for r in doc.runs where r.scenario == nil {
                let sweep = r.sweep.map { "\($0.field)=\($0.value.compact)" } ?? ""
                for (op, o) in r.operations.sorted(by: { $0.key < $1.key }) + [("total", r.total)] {
                    let l = o.latency
                    rows.append([r.workloadName, r.target, r.strategy ?? "", sweep, r.trial.map(String.init) ?? "", op,
                                 "\(o.count)", "\(o.errorCount)", num(o.throughput.value), num(o.bandwidth.value),
                                 num(l.mean), "\(l.p50)", "\(l.p90)", "\(l.p99)", "\(l.p999)", "\(l.max)",
                                 num(r.measuredSeconds)])
                }
            }
            return csv(rows)
        case .csvMetrics:
            var rows = [["metric", "kind", "unit", "better", "trials", "median", "mean", "stddev", "min", "max", "samples"]]
            for s in series {
                let (mean, sd) = Statistics.meanAndDeviation(s.samples)
                rows.append([s.name, s.kind.rawValue, s.unit, s.better.rawValue, "\(s.samples.count)", num(s.median),
                             num(mean), num(sd), num(s.samples.min() ?? .nan), num(s.samples.max() ?? .nan),
                             s.samples.map(num).joined(separator: ";")])
            }
            return csv(rows)
        }
    }

    /// A number for CSV: integers as such, others with 6 significant digits.
    static func num(_ v: Double) -> String {
        v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(format: "%.6g", v)
    }

    /// Rows as CSV lines (RFC 4180).
    static func csv(_ rows: [[String]]) -> String {
        rows.map { $0.map(csvField).joined(separator: ",") }.joined(separator: "\n") + "\n"
    }

    /// A CSV field, quoted when it holds a comma, a quote or a newline (RFC 4180).
    static func csvField(_ s: String) -> String {
        s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }

    /// A markdown table of gate findings, for a pull-request comment.
    public static func markdown(_ findings: [GateFinding]) -> String {
        var md = "| metric | kind | baseline | current | change | threshold | p | verdict |\n"
            + "|---|---|---:|---:|---:|---:|---:|---|\n"
        for f in findings {
            let mark = f.verdict == .regression ? "**regression**" : f.verdict.rawValue
            let change = f.change.isInfinite ? "rise from 0" : String(format: "%+.1f%%", f.change * 100)
            md += "| \(f.metric) | \(f.kind.rawValue) | \(Format.value(f.baseline, unit: f.unit)) | "
                + "\(Format.value(f.current, unit: f.unit)) | \(change) | \(Format.percent(f.threshold)) | "
                + "\(f.p.map { String(format: "%.3f", $0) } ?? "-") | \(mark) |\n"
        }
        return md
    }
}
