// `fusebench gate`: fails (exit 5) when the current result regressed
// against the baseline, by the medians of repeated trials, a relative
// threshold, and a Mann-Whitney test.
import ArgumentParser
import Foundation
import ResultModel

/// The CI performance gate.
struct GateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gate",
        abstract: "Decide whether a result regressed against a baseline (exit 5 on regression).",
        discussion: """
        A metric regresses when its median over the trials moved the wrong way by more than its threshold \
        and a two-sided Mann-Whitney U test over the trials gives p < --alpha (with fewer than 3 trials on \
        a side the threshold alone decides). Ratios measured in one run (reference/native) are gated when \
        the results have them; otherwise every shared metric. Exit codes: 0 no regression; 5 regression; \
        6 baseline missing or unreadable; 7 incompatible schema version.
        """
    )

    @Option(help: "Baseline result file.")
    var baseline: String

    @Option(help: "Current result file.")
    var current: String

    @Option(help: "Threshold for ratio metrics, as a fraction.")
    var ratioThreshold = 0.25

    @Option(help: "Threshold for other metrics, as a fraction.")
    var defaultThreshold = 0.5

    @Option(help: ArgumentHelp("Threshold for one metric (or metric suffix), e.g. 'latency p99=1.0'.",
                               valueName: "metric=fraction"))
    var threshold: [String] = []

    @Option(help: "Significance level of the Mann-Whitney test.")
    var alpha = 0.05

    @Flag(help: "Gate every shared metric, not only ratios.")
    var allMetrics = false

    @Option(help: "Also write the findings as markdown (for a pull-request comment).")
    var markdown: String?

    func validate() throws {
        for t in threshold {
            let kv = t.split(separator: "=", maxSplits: 1)
            guard kv.count == 2, Double(kv[1]) != nil else {
                throw ValidationError("--threshold takes metric=fraction, e.g. 'throughput=0.3'; got \(t)")
            }
        }
        guard alpha > 0 && alpha < 1 else { throw ValidationError("--alpha must be between 0 and 1") }
    }

    func run() throws {
        let base = try readResult(baseline, role: "baseline")
        let cur = try readResult(current, role: "current result")
        var config = GateConfig()
        config.ratioThreshold = ratioThreshold
        config.defaultThreshold = defaultThreshold
        config.alpha = alpha
        config.preferRatios = !allMetrics
        for t in threshold {
            let kv = t.split(separator: "=", maxSplits: 1)
            config.thresholds[String(kv[0])] = Double(kv[1])!
        }
        let findings = Gate.evaluate(baseline: base, current: cur, config: config)
        guard !findings.isEmpty else {
            throw CLIError.input("the baseline and the current result share no metric: are they of the same workloads?")
        }
        for f in findings {
            print(String(format: "%-12@ %@: %.4g -> %.4g %@ (%+.1f%%, threshold %.0f%%, p=%.3f, trials %d/%d)",
                         f.verdict.rawValue as NSString, f.metric, f.baseline, f.current, f.unit,
                         f.change * 100, f.threshold * 100, f.p, f.samples.0, f.samples.1))
        }
        if let markdown {
            try Export.markdown(findings).write(toFile: markdown, atomically: true, encoding: .utf8)
        }
        let regressions = findings.filter { $0.verdict == .regression }
        if !regressions.isEmpty {
            throw CLIError.regression("\(regressions.count) metric(s) regressed: "
                                      + regressions.map(\.metric).joined(separator: ", "))
        }
        print("gate: no regression in \(findings.count) metric(s)")
    }
}
