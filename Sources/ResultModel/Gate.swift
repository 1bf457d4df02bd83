// Deciding regressions between a baseline and a current result. Each kind
// of metric is gated the way it can be trusted:
// - exact figures (FUSE requests and bytes per client operation) by their
//   value: they are the same on any machine with the same kernel, so a
//   change beyond a rounding tolerance is a change in behaviour;
// - failed operations by count: any rise from a baseline of 0 regresses;
// - time (throughput, latency, their ratios) only when both sides were
//   measured side by side on one machine in one job: medians of repeated
//   trials, a relative threshold, and a Mann-Whitney test so that noise is
//   not called a change. Otherwise time is reported, not gated.

import Foundation

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
        /// Not gated: a time metric against a baseline measured elsewhere.
        case reported
    }
    /// Metric name.
    public var metric: String
    /// Unit.
    public var unit: String
    /// Which way is better.
    public var better: Better
    /// How it was gated.
    public var kind: MetricSeries.Kind
    /// Baseline median.
    public var baseline: Double
    /// Current median.
    public var current: Double
    /// (current - baseline) / baseline (infinite for a rise from 0).
    public var change: Double
    /// Threshold applied (fraction).
    public var threshold: Double
    /// Two-sided Mann-Whitney p-value (nil where no test ran: fewer than 3
    /// samples a side, or an exact figure).
    public var p: Double?
    /// Samples on each side.
    public var samples: (Int, Int)
    /// The verdict.
    public var verdict: Verdict

    public static func == (a: GateFinding, b: GateFinding) -> Bool {
        a.metric == b.metric && a.verdict == b.verdict && a.change == b.change && a.p == b.p
    }

    /// One line for people: the verdict, the metric, both values and why.
    public var line: String {
        let change = self.change.isInfinite ? "rise from 0" : String(format: "%+.1f%%", self.change * 100)
        var why: String
        switch kind {
        case .exact: why = "exact, tolerance \(Format.percent(threshold))"
        case .errors: why = baseline == 0 ? "any rise from 0 regresses" : "threshold \(Format.percent(threshold))"
        case .time: why = "threshold \(Format.percent(threshold))"
        }
        if let p { why += String(format: ", p=%.3f", p) }
        if verdict == .reported { why = "time, not gated" }
        return "\(verdict.rawValue.padding(toLength: 11, withPad: " ", startingAt: 0)) \(metric): "
            + "\(Format.value(baseline, unit: unit)) -> \(Format.value(current, unit: unit, scaleOf: baseline)) (\(change); \(why); "
            + "trials \(samples.0)/\(samples.1))"
    }
}

/// Gate settings.
public struct GateConfig: Sendable {
    /// Threshold for ratio metrics (fraction of the baseline).
    public var ratioThreshold = 0.25
    /// Threshold for other time metrics and for error counts above 0.
    public var defaultThreshold = 0.5
    /// Tolerance for exact figures (fraction of the baseline; a rise from
    /// 0 counts when above `exactFloor`).
    public var exactThreshold = 0.01
    /// Smallest rise from 0 that an exact figure may show: one request in
    /// 2000 operations.
    public var exactFloor = 0.0005
    /// Per-metric thresholds by name (or name suffix such as "latency p99").
    public var thresholds: [String: Double] = [:]
    /// Significance level.
    public var alpha = 0.05
    /// Gate time metrics: only when the baseline was measured side by side
    /// with the current result (in the same job, on the same machine).
    public var gateTime = false

    /// Defaults tuned not to flap on a noisy 2-core machine.
    public init() {}

    func threshold(for s: MetricSeries) -> Double {
        if let t = thresholds[s.name] { return t }
        if let (_, t) = thresholds.first(where: { s.name.hasSuffix($0.key) }) { return t }
        switch s.kind {
        case .exact: return exactThreshold
        case .errors: return defaultThreshold
        case .time: return s.isRatio ? ratioThreshold : defaultThreshold
        }
    }

    /// The metrics of `names` that no threshold key matches (a misspelt
    /// `--threshold` must not pass silently).
    public func unmatchedThresholds(_ names: some Sequence<String>) -> [String] {
        let all = Array(names)
        return thresholds.keys.filter { k in !all.contains { $0 == k || $0.hasSuffix(k) } }.sorted()
    }
}

/// The gate.
public enum Gate {
    /// Findings for every metric the two documents share, and for every
    /// count (per opcode, per errno) that only one side has: 0 on the other.
    public static func evaluate(baseline: ResultDocument, current: ResultDocument,
                                config: GateConfig = GateConfig()) -> [GateFinding] {
        evaluate(base: MetricSeries.extract(baseline), cur: MetricSeries.extract(current), config: config)
    }

    /// Findings for two targets of one invocation measured side by side
    /// (bench interleaves them): time is gated as well.
    public static func evaluateSideBySide(_ doc: ResultDocument, baselineTarget: String, currentTarget: String,
                                          config: GateConfig = GateConfig()) -> [GateFinding] {
        var c = config
        c.gateTime = true
        return evaluate(base: MetricSeries.extract(doc, target: baselineTarget),
                        cur: MetricSeries.extract(doc, target: currentTarget), config: c)
    }

    static func evaluate(base: [String: MetricSeries], cur: [String: MetricSeries],
                         config: GateConfig) -> [GateFinding] {
        var names = Set(base.keys).intersection(cur.keys)
        // A count one side never had (a new opcode, a new errno) was 0 there,
        // when that side measured the same group with the same kind.
        var base = base, cur = cur
        func zeroFill(_ from: [String: MetricSeries], into side: inout [String: MetricSeries]) {
            for (name, s) in from where s.kind != .time && side[name] == nil {
                let trials = side.values.filter { $0.group == s.group && $0.kind == s.kind }.map(\.samples.count).max() ?? 0
                guard trials > 0 else { continue }
                var zero = s
                zero.samples = [Double](repeating: 0, count: trials)
                side[name] = zero
                names.insert(name)
            }
        }
        zeroFill(cur, into: &base)
        zeroFill(base, into: &cur)
        return names.sorted().map { name in
            let b = base[name]!, c = cur[name]!
            let threshold = config.threshold(for: b)
            let rawChange = c.median - b.median
            let change = b.median != 0 ? rawChange / abs(b.median) : (rawChange == 0 ? 0 : rawChange > 0 ? .infinity : -.infinity)
            let worseSign: Double = b.better == .higher ? -1 : 1
            let enough = b.samples.count >= 3 && c.samples.count >= 3
            var p: Double?
            let verdict: GateFinding.Verdict
            switch b.kind {
            case .exact:
                // No test: the figure has no noise. Beyond the tolerance, or
                // a rise from 0 above the floor, is a change.
                let beyond = b.median == 0 ? abs(rawChange) > config.exactFloor : abs(change) > threshold
                verdict = !beyond ? .unchanged : (rawChange * worseSign > 0 ? .regression : .improvement)
            case .errors where b.median == 0:
                verdict = c.median > 0 ? .regression : .unchanged
            case .errors, .time:
                if b.kind == .time && !config.gateTime {
                    verdict = .reported
                    break
                }
                if enough { p = Statistics.mannWhitney(b.samples, c.samples).p }
                let significant = p.map { $0 < config.alpha } ?? true
                let worse = change * worseSign > threshold
                let better = -change * worseSign > threshold
                verdict = worse ? (significant ? .regression : .noise)
                    : better ? (significant ? .improvement : .noise) : .unchanged
            }
            return GateFinding(metric: name, unit: b.unit, better: b.better, kind: b.kind, baseline: b.median,
                               current: c.median, change: change, threshold: threshold, p: p,
                               samples: (b.samples.count, c.samples.count), verdict: verdict)
        }
    }

    /// A sentence naming what differs between the machines and software of
    /// two results (kernel, libfuse), or nil when they match.
    public static func environmentNote(baseline: EnvironmentInfo, current: EnvironmentInfo) -> String? {
        guard baseline.kernel != current.kernel || baseline.libfuse != current.libfuse else { return nil }
        return "the baseline ran on kernel \(baseline.kernel) with libfuse \(baseline.libfuse); this run on kernel "
            + "\(current.kernel) with libfuse \(current.libfuse). Requests per operation are exact for one kernel "
            + "and libfuse: a change in them may come from this difference rather than from the code."
    }
}

/// Numbers for people: units that stay readable.
public enum Format {
    /// "12 %", "0.5 %".
    public static func percent(_ f: Double) -> String {
        let v = f * 100
        return v == v.rounded() ? String(format: "%.0f%%", v) : String(format: "%.1f%%", v)
    }

    /// A value with its unit, nanoseconds scaled to us/ms/s.
    public static func value(_ v: Double, unit: String, scaleOf reference: Double? = nil) -> String {
        guard v.isFinite else { return "-" }
        if unit == "ns" {
            // One unit for a row: the reference value's (the baseline's).
            let r = abs(reference ?? v)
            if r >= 1e9 { return String(format: "%.3g s", v / 1e9) }
            if r >= 1e6 { return String(format: "%.3g ms", v / 1e6) }
            if r >= 1e3 { return String(format: "%.3g us", v / 1e3) }
            return String(format: "%.0f ns", v)
        }
        if unit == "ops" || unit == "B" && v == v.rounded() { return String(format: "%.0f %@", v, unit) }
        return String(format: "%.4g %@", v, unit)
    }
}
