// `fusebench gate`: fails (exit 5) when the current result regressed
// against the baseline. Exact figures and failed operations are gated
// against any baseline; time only against one measured side by side.
import Workload
import ArgumentParser
import Foundation
import ResultModel

/// The CI performance gate.
struct GateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gate",
        abstract: "Decide whether a result regressed against a baseline (exit 5 on regression).",
        discussion: """
        Exact figures (FUSE requests per client operation by opcode, request and reply bytes per operation) \
        regress when they move the wrong way by more than --exact-threshold (a rise from 0 counts above \
        one request in 2000 operations): they are the same on any machine with the same kernel. Failed \
        operations (per operation and errno) regress on any rise from a baseline of 0, else by \
        --default-threshold and the U test. Time (throughput, latency and their ratios) depends on the \
        machine: it is reported, not gated, unless the baseline was measured side by side with the \
        current result: --baseline-target NAME compares two targets of one bench invocation (interleaved \
        on one machine), and --time gates time between two files you know were measured that way. A time \
        metric regresses when its median moved the wrong way by more than its threshold and a two-sided \
        Mann-Whitney U test over the trials gives p < --alpha. Exit codes: 0 no regression; 2 bad \
        arguments; 5 regression; 6 baseline missing or unreadable; 7 incompatible schema version.
        """
    )

    @Option(help: "Baseline result file (not with --baseline-target).")
    var baseline: String?

    @Option(help: "Current result file.")
    var current: String

    @Option(help: ArgumentHelp("""
        Compare two targets of the current file measured side by side (bench --peer or --variant): this \
        target's runs are the baseline, and time is gated too.
        """, valueName: "name"))
    var baselineTarget: String?

    @Option(help: ArgumentHelp("With --baseline-target: the target gated against it.", valueName: "name"))
    var currentTarget = "reference"

    @Flag(help: "Gate time metrics against --baseline too (only for a baseline measured in the same job on the same machine).")
    var time = false

    @Option(help: "Threshold for ratio metrics, as a fraction.")
    var ratioThreshold = 0.25

    @Option(help: "Threshold for other time metrics and for error counts above 0, as a fraction.")
    var defaultThreshold = 0.5

    @Option(help: "Tolerance of exact figures (requests and bytes per operation), as a fraction.")
    var exactThreshold = 0.01

    @Option(help: ArgumentHelp("Threshold for one metric (or metric suffix), e.g. 'latency p99=1.0'.",
                               valueName: "metric=fraction"))
    var threshold: [String] = []

    @Option(help: ArgumentHelp("""
        A file of thresholds, one 'metric=fraction' a line (a suffix such as 'latency p99' works; '#' starts a \
        comment); --threshold given too wins.
        """, valueName: "file"))
    var thresholds: String?

    @Option(help: "Significance level of the Mann-Whitney test.")
    var alpha = 0.05

    @Option(help: "Also write the findings as markdown (for a pull-request comment).")
    var markdown: String?

    @Flag(name: .shortAndLong, help: "Print every finding, unchanged and reported ones too.")
    var verbose = false

    func validate() throws {
        for t in threshold {
            let kv = t.split(separator: "=", maxSplits: 1)
            guard kv.count == 2, let v = Double(kv[1]), v >= 0 else {
                throw ValidationError("--threshold takes metric=fraction, e.g. 'throughput=0.3'; got \(t)")
            }
        }
        guard alpha > 0 && alpha < 1 else { throw ValidationError("--alpha must be between 0 and 1") }
        guard (baseline == nil) != (baselineTarget == nil) else {
            throw ValidationError("give either --baseline FILE or --baseline-target NAME (two targets of --current)")
        }
        guard !(time && baselineTarget != nil) else {
            throw ValidationError("--time goes with --baseline; --baseline-target gates time anyway")
        }
    }

    func run() throws {
        let cur = try readResult(current, role: "current result")
        var config = GateConfig()
        config.ratioThreshold = ratioThreshold
        config.defaultThreshold = defaultThreshold
        config.exactThreshold = exactThreshold
        config.alpha = alpha
        config.gateTime = time
        if let thresholds {
            for (k, v) in try Self.readThresholds(thresholds) { config.thresholds[k] = v }
        }
        for t in threshold {
            let kv = t.split(separator: "=", maxSplits: 1)
            config.thresholds[String(kv[0])] = Double(kv[1])!
        }
        let findings: [GateFinding]
        if let baselineTarget {
            let targets = Set(cur.runs.map(\.target))
            for t in [baselineTarget, currentTarget] where !targets.contains(t) {
                throw CLIError.input("\(current) has no runs of target \"\(t)\"; its targets: "
                                     + targets.sorted().joined(separator: ", "))
            }
            findings = Gate.evaluateSideBySide(cur, baselineTarget: baselineTarget, currentTarget: currentTarget,
                                               config: config)
            print("gate: \(currentTarget) against \(baselineTarget), measured side by side in one invocation: "
                  + "time is gated")
        } else {
            let base = try readResult(baseline!, role: "baseline")
            findings = Gate.evaluate(baseline: base, current: cur, config: config)
            if let note = Gate.environmentNote(baseline: base.environment, current: cur.environment) {
                print("gate: note: " + note)
            }
            if !time && findings.contains(where: { $0.verdict == .reported }) {
                print("gate: time metrics are reported, not gated: the baseline was measured on \(base.environment.hostname) "
                      + "at \(base.createdAt), not side by side with this run (see --time and --baseline-target)")
            }
        }
        guard !findings.isEmpty else {
            throw CLIError.input("the baseline and the current result share no metric: are they of the same workloads?")
        }
        let unmatched = config.unmatchedThresholds(findings.map(\.metric))
        guard unmatched.isEmpty else {
            throw CLIError.input("a threshold (--threshold, --thresholds) names no metric of these results: " + unmatched.joined(separator: ", ")
                                 + "; metrics look like \"\(findings[0].metric)\" (a suffix such as \"latency p99\" works)")
        }
        // Regressions go to standard error, in the failure message below.
        for f in findings where f.verdict != .regression && (verbose || (f.verdict != .unchanged && f.verdict != .reported)) {
            print(f.line)
        }
        let reported = findings.filter { $0.verdict == .reported }
        if !verbose, let top = reported.filter({ $0.change.isFinite }).max(by: { abs($0.change) < abs($1.change) }) {
            print("gate: \(reported.count) time metric(s) reported, not gated; the largest change: \(top.metric) "
                  + String(format: "%+.1f%%", top.change * 100) + " (--verbose lists them)")
        }
        if let markdown {
            try Export.markdown(findings).write(toFile: markdown, atomically: true, encoding: .utf8)
        }
        let regressions = findings.filter { $0.verdict == .regression }
        if !regressions.isEmpty {
            throw CLIError.regression("\(regressions.count) metric(s) regressed:\n"
                                      + regressions.map { "  " + $0.line }.joined(separator: "\n"))
        }
        let gated = findings.filter { $0.verdict != .reported }
        let kinds = Dictionary(grouping: gated, by: \.kind).map { "\($1.count) \($0.rawValue)" }.sorted()
        print("gate: no regression in \(gated.count) gated metric(s) (\(kinds.joined(separator: ", ")))"
              + (gated.count < findings.count ? "; \(findings.count - gated.count) time metric(s) reported" : ""))
    }
}

extension GateCommand {
    /// Thresholds from a file: "metric=fraction" per line, '#' comments.
    static func readThresholds(_ path: String) throws -> [(String, Double)] {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw CLIError.input("--thresholds \(path): cannot read the file (\(error.localizedDescription))")
        }
        var out: [(String, Double)] = []
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first?
                .trimmingCharacters(in: .whitespaces) ?? ""
            if line.isEmpty { continue }
            let kv = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard kv.count == 2, !kv[0].isEmpty, let v = Double(kv[1]), v >= 0 else {
                throw CLIError.input("--thresholds \(path), line \(n + 1): expected metric=fraction, such as "
                                     + "'latency p99 = 1.0'; got \"\(line)\"")
            }
            out.append((kv[0], v))
        }
        return out
    }
}
