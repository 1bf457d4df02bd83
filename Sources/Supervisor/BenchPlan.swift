// `fusebench bench`: the standard workloads on the reference server and on
// the native backing directory, interleaved, repeated, and reduced to
// ratios measured side by side in one invocation.
import Workload
import Foundation
import Contract
import FuseServer
import LoadGen
import ResultModel

/// One target of a benchmark: native, the reference server, the null
/// target, or an external server.
public struct BenchTarget: Sendable {
    /// Which kind.
    public var target: Target
    /// The server command, for external targets.
    public var peer: PeerServer?
    /// Changed server options, for a variant of the reference server.
    public var variant: ReferenceVariant?
    /// The name in results and ratios.
    public var name: String { variant?.name ?? peer?.name ?? target.rawValue }

    /// A target.
    public init(_ target: Target, peer: PeerServer? = nil) {
        self.target = target
        self.peer = peer
    }

    /// The reference server with some options changed.
    public init(variant: ReferenceVariant) {
        target = .reference
        self.variant = variant
    }
}

/// The reference server with some of the workload's server options
/// changed, benchmarked as a target of its own ("splice"), so that each
/// option's effect is measured side by side with the default.
public struct ReferenceVariant: Sendable, Equatable {
    /// Name in results and ratios.
    public var name: String
    /// Server option values by workload key ("splice": true).
    public var overrides: [String: JSONValue]

    /// Parses "NAME:KEY=VALUE[,KEY=VALUE...]" with the keys of a workload's
    /// "server" object ("splice:splice=true", "big-writes:maxWrite=1MiB").
    public init(_ spec: String) throws {
        let usage = "--variant: expected NAME:KEY=VALUE[,KEY=VALUE...] with keys of a workload's \"server\" object, "
            + "such as 'splice:splice=true' or 'big-writes:maxWrite=1MiB', got \"\(spec)\""
        guard let colon = spec.firstIndex(of: ":") else { throw SupervisorError.input(usage) }
        name = String(spec[..<colon])
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
            throw SupervisorError.input(usage)
        }
        guard Target(rawValue: name) == nil else {
            throw SupervisorError.input("--variant \(name): the name is taken by a target; choose another")
        }
        overrides = [:]
        for pair in spec[spec.index(after: colon)...].split(separator: ",") {
            let kv = pair.split(separator: "=", maxSplits: 1).map(String.init)
            guard kv.count == 2, !kv[0].isEmpty else { throw SupervisorError.input(usage) }
            let v = kv[1]
            overrides[kv[0]] = v == "true" ? .bool(true) : v == "false" ? .bool(false)
                : Double(v).map(JSONValue.number) ?? .string(v)
        }
        guard !overrides.isEmpty else { throw SupervisorError.input(usage) }
        _ = try apply(to: ServerOptions())
    }

    /// `options` with the overrides, checked as a workload's "server"
    /// object is (unknown keys and bad values are refused).
    public func apply(to options: ServerOptions) throws -> ServerOptions {
        do {
            return try options.overriding(overrides, file: "--variant \(name)")
        } catch let e as WorkloadError {
            throw SupervisorError.input("\(e)")
        }
    }
}

/// Caching configurations a benchmark can force on every server.
public enum CacheMode: String, CaseIterable, Sendable {
    /// As the workload file says.
    case workload
    /// Entry and attribute timeouts 0, page cache dropped at open: every
    /// call reaches the server.
    case off
    /// Timeouts of an hour and the page cache kept across opens.
    case on

    /// Applies the mode to a workload (and names the variant).
    public func apply(_ w: inout Workload) {
        switch self {
        case .workload: return
        case .off:
            w.server.entryTimeout = 0
            w.server.attrTimeout = 0
            w.server.keepCache = false
        case .on:
            w.server.entryTimeout = 3600
            w.server.attrTimeout = 3600
            w.server.keepCache = true
        }
    }
}

/// Runs the benchmark matrix.
public enum BenchPlan {
    /// The variants of `workloads`: each cache mode and client thread count
    /// (nil: as the file says), named "metadata-off-1t" when there is more
    /// than the file's own configuration.
    public static func variants(_ workloads: [Workload], cacheModes: [CacheMode], clientThreads: [Int?]) -> [Workload] {
        workloads.flatMap { w in
            cacheModes.flatMap { mode in
                clientThreads.map { threads in
                    var v = w
                    mode.apply(&v)
                    if let threads { v.load.threads = threads }
                    var suffix = mode == .workload ? "" : "-\(mode.rawValue)"
                    if let threads { suffix += "-\(threads)t" }
                    v.name += suffix
                    return v
                }
            }
        }
    }

    /// Runs every workload on every target `repeats` times, rotating which
    /// target goes first, and returns the runs and the ratios: each target
    /// against native, and the reference server against each external one.
    public static func run(_ workloads: [Workload], targets: [BenchTarget] = [BenchTarget(.native), BenchTarget(.reference)],
                           repeats: Int, executable: String, reporter: RunReporter) throws -> ([RunResult], [Comparison]) {
        var runs: [RunResult] = []
        var comparisons: [Comparison] = []
        for w in workloads {
            let mine = try RunPlan.execute(try RunPlan.forBench(w, targets: targets, repeats: repeats),
                                           executable: executable, reporter: reporter)
            runs += mine
            let names = targets.map(\.name)
            for t in names where t != "native" && names.contains("native") {
                comparisons.append(compare(w.name, mine, target: t, baseline: "native"))
            }
            for peer in targets.compactMap(\.peer) where names.contains("reference") {
                comparisons.append(compare(w.name, mine, target: "reference", baseline: peer.name))
            }
            for v in targets.compactMap(\.variant) where names.contains("reference") {
                comparisons.append(compare(w.name, mine, target: v.name, baseline: "reference"))
            }
        }
        return (runs, comparisons)
    }

    /// Ratios `target`/`baseline` of the medians over repeats.
    public static func compare(_ name: String, _ runs: [RunResult], target: String = "reference",
                               baseline: String = "native") -> Comparison {
        let mine = runs.filter { $0.target == target }
        let theirs = runs.filter { $0.target == baseline }
        func ratio(_ f: (RunResult) -> Double) -> Double {
            let b = Statistics.median(theirs.map(f)) ?? .nan
            return b > 0 ? (Statistics.median(mine.map(f)) ?? .nan) / b : .nan
        }
        let ratios: [String: Metric] = [
            "throughput": Metric(ratio { $0.total.throughput.value }, unit: "ratio", better: .higher),
            "bandwidth": Metric(ratio { $0.total.bandwidth.value }, unit: "ratio", better: .higher),
            "latencyP50": Metric(ratio { Double($0.total.latency.p50) }, unit: "ratio", better: .lower),
            "latencyP99": Metric(ratio { Double($0.total.latency.p99) }, unit: "ratio", better: .lower),
        ]
        let p = mine.count >= 3 && theirs.count >= 3
            ? Statistics.mannWhitney(mine.map(\.total.throughput.value), theirs.map(\.total.throughput.value)).p : nil
        // A ratio of nothing (no bytes moved) is left out rather than NaN.
        return Comparison(workload: name, target: target, baseline: baseline,
                          ratios: ratios.filter { $0.value.value.isFinite }, throughputP: p)
    }
}
