// Hazard scenarios: a scripted probe around one restart, the figures it
// measured, and whether the outcome its workload file expects held.

/// One expected-outcome check: a figure and the most it may be.
public struct ScenarioCheck: Codable, Equatable, Sendable {
    /// The figure ("wrongDataReads").
    public var figure: String
    /// What the run measured.
    public var measured: Double
    /// The expectation: measured <= maximum.
    public var maximum: Double
    /// Whether it held.
    public var passed: Bool

    /// A check of `measured` against `maximum`.
    public init(figure: String, measured: Double, maximum: Double) {
        self.figure = figure
        self.measured = measured
        self.maximum = maximum
        passed = measured <= maximum
    }
}

/// What one hazard scenario did under one strategy.
public struct ScenarioResult: Codable, Equatable, Sendable {
    /// The hazard ("inode-reuse", "stale-attributes", "resent-non-idempotent",
    /// "ephemeral-ids", "open-files").
    public var hazard: String
    /// The expected outcome, in words (from the workload file).
    public var expectation: String
    /// Whether every check passed.
    public var passed: Bool
    /// The expectations, checked.
    public var checks: [ScenarioCheck]
    /// Everything the probe counted, by name (counts, or ns for times).
    public var figures: [String: Double]
    /// Set when the hazard could not be produced (the result then proves
    /// nothing): what was missing.
    public var inconclusive: String?
    /// Set when the probe hung (the watchdog aborted the connection): what
    /// made no progress, and why where it is known. The scenario fails.
    public var hung: String?
    /// Set when the server died on its own during the probe (after the
    /// restart, typically: a server that cannot serve the connection it
    /// resumed): how. The scenario fails.
    public var died: String?

    /// A result; `passed` follows from the checks.
    public init(hazard: String, expectation: String, checks: [ScenarioCheck], figures: [String: Double],
                inconclusive: String? = nil) {
        self.hazard = hazard
        self.expectation = expectation
        self.checks = checks
        self.figures = figures
        self.inconclusive = inconclusive
        passed = checks.allSatisfy(\.passed) && inconclusive == nil
    }

    /// The checks that failed, as "figure=measured (max maximum)".
    public var failures: [String] {
        checks.filter { !$0.passed }.map { "\($0.figure)=\(Self.number($0.measured)) (max \(Self.number($0.maximum)))" }
    }

    static func number(_ v: Double) -> String {
        v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(format: "%.3g", v)
    }
}

/// One cell of the scenario-by-strategy matrix.
public struct MatrixCell: Codable, Equatable, Sendable {
    /// The scenario (workload name).
    public var scenario: String
    /// The hazard it probes.
    public var hazard: String
    /// The restart strategy.
    public var strategy: String
    /// "pass", "fail" or "inconclusive".
    public var outcome: String
    /// The failed checks, or why it is inconclusive.
    public var detail: [String]

    /// The scenarios (rows) and strategies (columns) of a matrix, in order
    /// of first appearance.
    public static func axes(_ cells: [MatrixCell]) -> (scenarios: [String], strategies: [String]) {
        var scenarios: [String] = [], strategies: [String] = []
        for c in cells {
            if !scenarios.contains(c.scenario) { scenarios.append(c.scenario) }
            if !strategies.contains(c.strategy) { strategies.append(c.strategy) }
        }
        return (scenarios, strategies)
    }

    /// The matrix of a document's scenario runs, in run order.
    public static func matrix(_ runs: [RunResult]) -> [MatrixCell] {
        runs.compactMap { r in
            guard let s = r.scenario else { return nil }
            let outcome = s.inconclusive != nil ? "inconclusive" : s.passed ? "pass" : "fail"
            return MatrixCell(scenario: r.workloadName, hazard: s.hazard, strategy: r.strategy ?? "none",
                              outcome: outcome, detail: s.inconclusive.map { [$0] } ?? s.failures)
        }
    }
}
