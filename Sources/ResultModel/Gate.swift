// Deciding regressions between a baseline and a current result, the way a
// careful CI tool does: medians of repeated trials, a relative threshold per
// metric, and a Mann-Whitney test so that noise is not called a change.

/// What the gate decided about one metric.
public struct GateFinding: Equatable, Sendable {
    /// The verdicts.
    public enum Verdict: String, Sendable {
        /// Worse by more than the threshold, and significant.
        case regression
        /// Better by more than the threshold, and significant.
        case improvement
        /// Beyond the threshold but not significant: noise.
        case noise
        /// Within the threshold.
        case unchanged
    }
    /// Metric name.
    public var metric: String
    /// Unit.
    public var unit: String
    /// Which way is better.
    public var better: Better
    /// Baseline median.
    public var baseline: Double
    /// Current median.
    public var current: Double
    /// (current - baseline) / baseline.
    public var change: Double
    /// Threshold applied (fraction).
    public var threshold: Double
    /// Two-sided Mann-Whitney p-value (1 when a side has fewer than 3 samples).
    public var p: Double
    /// Samples on each side.
    public var samples: (Int, Int)
    /// The verdict.
    public var verdict: Verdict

    public static func == (a: GateFinding, b: GateFinding) -> Bool {
        a.metric == b.metric && a.verdict == b.verdict && a.change == b.change && a.p == b.p
    }
}

/// Gate settings.
public struct GateConfig: Sendable {
    /// Threshold for ratio metrics (fraction of the baseline).
    public var ratioThreshold = 0.25
    /// Threshold for other metrics.
    public var defaultThreshold = 0.5
    /// Per-metric thresholds by name (or name suffix such as "latency p99").
    public var thresholds: [String: Double] = [:]
    /// Significance level.
    public var alpha = 0.05
    /// Gate on ratio metrics only, when the results have any.
    public var preferRatios = true

    /// Defaults tuned not to flap on a noisy 2-core machine.
    public init() {}

    func threshold(for s: MetricSeries) -> Double {
        if let t = thresholds[s.name] { return t }
        if let (_, t) = thresholds.first(where: { s.name.hasSuffix($0.key) }) { return t }
        return s.isRatio ? ratioThreshold : defaultThreshold
    }
}

/// The gate.
public enum Gate {
    /// Findings for every metric the two documents share (ratio metrics
    /// only, when both have some and `preferRatios` is set).
    public static func evaluate(baseline: ResultDocument, current: ResultDocument,
                                config: GateConfig = GateConfig()) -> [GateFinding] {
        let base = MetricSeries.extract(baseline)
        let cur = MetricSeries.extract(current)
        var names = Set(base.keys).intersection(cur.keys)
        if config.preferRatios {
            let ratios = names.filter { base[$0]!.isRatio }
            if !ratios.isEmpty { names = ratios }
        }
        return names.sorted().map { name in
            let b = base[name]!, c = cur[name]!
            let change = b.median != 0 ? (c.median - b.median) / abs(b.median) : 0
            let threshold = config.threshold(for: b)
            let enough = b.samples.count >= 3 && c.samples.count >= 3
            let p = enough ? Statistics.mannWhitney(b.samples, c.samples).p : 1
            let worse = b.better == .higher ? change < -threshold : change > threshold
            let better = b.better == .higher ? change > threshold : change < -threshold
            let significant = !enough || p < config.alpha
            let verdict: GateFinding.Verdict = worse ? (significant ? .regression : .noise)
                : better ? (significant ? .improvement : .noise) : .unchanged
            return GateFinding(metric: name, unit: b.unit, better: b.better, baseline: b.median, current: c.median,
                               change: change, threshold: threshold, p: p, samples: (b.samples.count, c.samples.count),
                               verdict: verdict)
        }
    }
}
