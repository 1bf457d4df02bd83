// The versioned result file: what was run, where, and what was measured.
// Documented in results/README.md and results/schema/result-v1.schema.json.
import Foundation

/// Tool identity.
public struct ToolIdentity: Codable, Equatable, Sendable {
    /// Always "fusebench".
    public var name: String
    /// Semantic version.
    public var version: String
    /// git revision of the source tree, when known.
    public var gitRevision: String?

    /// An identity.
    public init(name: String, version: String, gitRevision: String?) {
        self.name = name
        self.version = version
        self.gitRevision = gitRevision
    }
}

/// A ratio of the same metric on two targets, measured in one invocation.
public struct Comparison: Codable, Equatable, Sendable {
    /// Workload name.
    public var workload: String
    /// Numerator target ("reference").
    public var target: String
    /// Denominator target ("native").
    public var baseline: String
    /// target / baseline, per metric name ("throughput", "latencyP50", "latencyP99").
    public var ratios: [String: Metric]
    /// Two-sided Mann-Whitney U p-value of the target's throughput samples
    /// against the baseline's (left out below 3 repeats each): how likely a
    /// difference this large is when both perform the same.
    public var throughputP: Double?

    /// A comparison.
    public init(workload: String, target: String, baseline: String, ratios: [String: Metric],
                throughputP: Double? = nil) {
        self.workload = workload
        self.target = target
        self.baseline = baseline
        self.ratios = ratios
        self.throughputP = throughputP
    }
}

/// The top-level result document.
public struct ResultDocument: Codable, Equatable, Sendable {
    /// Version of this format; readers refuse versions they do not know.
    public static let currentSchemaVersion = 1

    /// Format version.
    public var schemaVersion: Int
    /// "run" or "bench".
    public var kind: String
    /// Which tool wrote it.
    public var tool: ToolIdentity
    /// When the document was written, ISO 8601.
    public var createdAt: String
    /// The command line.
    public var command: [String]
    /// The machine.
    public var environment: EnvironmentInfo
    /// The measured runs.
    public var runs: [RunResult]
    /// Ratios between runs of one invocation (bench); left out when empty.
    public var comparisons: [Comparison]?
    /// Lines fitted through sweep points (revalidation studies).
    public var fits: [LinearFit]?
    /// Hazard scenarios against strategies, pass or fail (scenario runs).
    public var matrix: [MatrixCell]?
    /// Real-program clients against strategies, pass or fail (runs with clients).
    public var clientMatrix: [ClientCell]?
    /// Interrupted: the runs made until the signal, the last one partial.
    public var partial: Bool?
    /// A `scorecard` document's card (computed from its runs).
    public var scorecard: Scorecard?

    /// A document.
    public init(kind: String, tool: ToolIdentity, command: [String], environment: EnvironmentInfo,
                runs: [RunResult], comparisons: [Comparison]? = nil, createdAt: Date = Date()) {
        schemaVersion = Self.currentSchemaVersion
        self.kind = kind
        self.tool = tool
        self.createdAt = ISO8601.string(createdAt)
        self.command = command
        self.environment = environment
        self.runs = runs.map { r in
            var r = r
            r.label = r.labelText
            return r
        }
        self.comparisons = comparisons
        let f = LinearFit.revalidationFits(runs)
        fits = f.isEmpty ? nil : f
        let m = MatrixCell.matrix(runs)
        matrix = m.isEmpty ? nil : m
        let c = ClientCell.matrix(runs)
        clientMatrix = c.isEmpty ? nil : c
        partial = runs.contains { $0.partial == true } ? true : nil
    }
}

/// ISO 8601 timestamps with milliseconds, UTC.
public enum ISO8601 {
    /// Formats a date.
    public static func string(_ d: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: d)
    }
}
