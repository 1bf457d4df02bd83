// A server's restart-readiness scorecard, computed from the runs that made
// it: per strategy, what applications saw through a run of faults (outage,
// stall, errors, integrity, deaths), which hazard scenarios held, whether a
// later instance resolved the node ids an earlier one handed out, and a
// verdict with what the server would need for the strategies it fails.

/// One strategy on the card.
public struct ScorecardStrategy: Codable, Sendable, Equatable {
    /// The strategy.
    public var strategy: String
    /// "supported", "supported with errors" (remount: applications see
    /// the restart), "partly" (the faulted run was clean, some hazard
    /// failed) or "not supported" (the server died, hung, or lost or mixed
    /// up data).
    public var verdict: String
    /// Medians over the faults of the strategy run, ns (nil: not measured).
    public var outage: Double?, stall: Double?
    /// Failed operations of the load over the strategy run.
    public var applicationErrors: UInt64
    /// "ok", "FAILED", or nil (no strategy run).
    public var integrity: String?
    /// Times the server died on its own after a restart.
    public var deaths: Int
    /// Why the strategy run was given up, if it was.
    public var abandoned: String?
    /// Hazard scenarios that held, and those that did not.
    public var hazardsPassed: [String]
    public var hazardsFailed: [String]
    /// Real programs run under the strategy's faults, and those that
    /// failed (setup, run or verify), by name; nil when none ran.
    public var clients: Int?
    public var clientsFailed: [String]?
    /// What the server would need for this strategy to pass everything.
    public var needs: [String]
}

/// Node-id stability under one handover strategy (the ephemeral-ids
/// scenario): of the files whose node ids the kernel held across the
/// restart, how many the new instance resolved to the right file.
public struct NodeIdStability: Codable, Sendable, Equatable {
    public var strategy: String
    public var filesProbed: Int
    public var resolved: Int
    public var errors: Int
    public var wrongFile: Int
    /// Ids the new instance did not know (the reference server counts
    /// them; the kernel then looked the names up again, so the files still
    /// read). Nil for another server.
    public var unknownNodeIds: Int?
    /// How the server died or hung during the probe, if it did.
    public var failure: String?
}

/// The card.
public struct Scorecard: Codable, Sendable, Equatable {
    /// The server's name and command ("reference" for ours).
    public var server: String
    public var command: String?
    public var strategies: [ScorecardStrategy]
    public var nodeIdStability: [NodeIdStability]
    /// One sentence: which strategies the server supports as it is.
    public var verdict: String

    /// What a failed scenario says a server would need.
    static let needs: [String: String] = [
        "ephemeral-ids": "node ids that a later instance can resolve (file handles, or a table it reads at start)",
        "held-descriptors": "file handles that a later instance can reopen (with the open flags kept in the handle)",
        "open-files": "open files kept outside the process (the keeper socket) or by the kernel (FUSE passthrough)",
        "stale-attributes": "revalidation after a restart (FUSE_NOTIFY_INC_EPOCH, or invalidating what it handed out)",
        "inode-reuse": "node ids with a generation, so that a reused inode number names no other file",
        "resent-non-idempotent": "recognising resent create, mkdir, unlink and rename (an intent log)",
        "stale-caches": "keeping file pages and listings only for objects unchanged since this instance saw them",
        "passthrough-reopen": "reusing the backing ids the connection holds for files open across the restart",
    ]

    /// The card of `server` from `runs`: runs with faults and no scenario
    /// are the strategy runs, runs with a scenario the hazard matrix.
    public init(server: String, command: String?, runs: [RunResult]) {
        self.server = server
        self.command = command
        var order: [String] = []
        for r in runs { if let s = r.strategy, !order.contains(s) { order.append(s) } }
        strategies = order.map { s in
            let faulted = runs.filter { $0.strategy == s && $0.scenario == nil && $0.faults != nil && $0.clients == nil }
            let programs = runs.filter { $0.strategy == s }.compactMap(\.clients).flatMap { $0 }
            let programsFailed = programs.filter { !$0.passed }.map(\.name)
            let summaries = faulted.map(StrategySummary.init)
            let scenarios = runs.filter { $0.strategy == s }.compactMap(\.scenario)
            let passed = scenarios.filter(\.passed).map(\.hazard)
            let failed = scenarios.filter { !$0.passed }.map(\.hazard)
            let deaths = summaries.reduce(0) { $0 + $1.deaths }
            let abandoned = summaries.compactMap(\.abandoned).first
            let integrity = summaries.isEmpty ? nil : summaries.allSatisfy { $0.integrity != "FAILED" } ? "ok" : "FAILED"
            let errors = summaries.reduce(UInt64(0)) { $0 + $1.applicationErrors }
            let broken = deaths > 0 || abandoned != nil || integrity == "FAILED"
                || scenarios.contains { $0.hung != nil || $0.died != nil }
            let verdict: String
            if broken {
                verdict = "not supported"
            } else if s == "remount" {
                // Every server can be remounted; what applications see of it
                // (errors, lost open files) is the point, not a shortcoming.
                verdict = "supported with errors"
            } else if !failed.isEmpty || !programsFailed.isEmpty {
                verdict = "partly"
            } else if errors > 0 {
                verdict = "supported with errors"
            } else {
                verdict = "supported"
            }
            // A scenario the server died or hung in says nothing more
            // specific than that; remount's failures are remount's own.
            let telling = scenarios.filter { !$0.passed && $0.died == nil && $0.hung == nil }.map(\.hazard)
            var needs = s == "remount" ? [] : telling.compactMap { Self.needs[$0] }
            if deaths > 0 || abandoned != nil || scenarios.contains(where: { $0.died != nil }) {
                needs.insert("to survive requests for node ids and file handles an earlier instance handed out "
                             + "(it crashed on them)", at: 0)
            }
            if integrity == "FAILED" { needs.insert("to never answer for the wrong file (integrity failed)", at: 0) }
            if s != "remount" && !programsFailed.isEmpty {
                needs.append("to keep real programs working across the restart (failed: "
                             + programsFailed.joined(separator: ", ") + ")")
            }
            return ScorecardStrategy(strategy: s, verdict: verdict,
                                     outage: Statistics.median(summaries.compactMap(\.outage)),
                                     stall: Statistics.median(summaries.compactMap(\.stall)),
                                     applicationErrors: errors, integrity: integrity, deaths: deaths,
                                     abandoned: abandoned, hazardsPassed: passed, hazardsFailed: failed,
                                     clients: programs.isEmpty ? nil : programs.count,
                                     clientsFailed: programs.isEmpty ? nil : programsFailed,
                                     needs: Array(Set(needs)).sorted())
        }
        nodeIdStability = runs.compactMap { r in
            guard let sc = r.scenario, sc.hazard == "ephemeral-ids", let s = r.strategy, s != "remount" else { return nil }
            let probed = Int(sc.figures["filesProbed"] ?? 0)
            let errors = Int(sc.figures["applicationErrors"] ?? 0)
            let wrong = Int(sc.figures["wrongDataReads"] ?? 0)
            let unknown = sc.figures["unknownNodeIds"].map { Int($0) }
            let failure = sc.died ?? sc.hung
            return NodeIdStability(strategy: s, filesProbed: probed,
                                   resolved: failure == nil ? max(0, probed - errors - wrong - (unknown ?? 0)) : 0,
                                   errors: errors, wrongFile: wrong, unknownNodeIds: unknown, failure: failure)
        }
        let supported = strategies.filter { $0.verdict.hasPrefix("supported") }.map(\.strategy)
        let handover = strategies.filter { $0.strategy != "remount" }
        if handover.isEmpty {
            verdict = "\(server): no handover strategy was run"
        } else if handover.allSatisfy({ $0.verdict == "not supported" }) {
            let why = handover.contains { $0.deaths > 0 || $0.abandoned != nil }
                ? "it crashed on node ids and file handles an earlier instance handed out"
                : handover.contains { $0.integrity == "FAILED" } ? "it answered for the wrong file after a restart"
                : "it died or hung in the hazard scenarios"
            verdict = "\(server) supports \(supported.isEmpty ? "no strategy" : supported.joined(separator: ", ")) "
                + "as it is; no handover: \(why)"
        } else {
            verdict = "\(server) supports \(supported.isEmpty ? "no strategy fully" : supported.joined(separator: ", ")) as it is"
                + (handover.contains { $0.verdict == "partly" }
                   ? "; partly: " + handover.filter { $0.verdict == "partly" }.map(\.strategy).joined(separator: ", ")
                   : "")
        }
    }
}
