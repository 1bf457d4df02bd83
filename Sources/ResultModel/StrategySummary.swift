// One row of the strategy comparison (medians over a run's faults), shared
// by the text summary and the HTML report.

/// What a run with faults amounts to.
public struct StrategySummary: Sendable {
    /// The strategy (or target) of the run.
    public var strategy: String
    /// Faults that fired (the harness's; deaths are counted apart).
    public var faults: Int
    /// Times the server died on its own (after a restart, typically) and
    /// was restarted.
    public var deaths: Int
    /// Why the run was given up (the server kept dying), or nil.
    public var abandoned: String?
    /// Medians over the faults, in ns; nil when no fault had the value.
    /// `recovery` counts a fault not back before the next as infinite (so
    /// is the median when more than half were not back).
    public var outage: Double?, resume: Double?, stall: Double?, recovery: Double?
    /// The recovery measure at control instants halfway between faults
    /// (`RunResult.recoveryControl`), ns.
    public var recoveryControl: Double?
    /// Where the longest stall of each fault went (`FaultEvent.longestStall`),
    /// medians over the faults, ns: its time before the fault, after the
    /// fault until the resend (all of it after the fault, without a
    /// handover), and after the resend; nil without stalled operations.
    public var stallBeforeFault: Double?, stallUntilResend: Double?, stallAfterResend: Double?
    /// From the resend to the new server's latest reply to a request it
    /// re-delivered (`HandoverTimeline.resentAnswered`), median over the
    /// faults, ns; nil without.
    public var resentAnsweredAfterResend: Double?
    /// Those operations by kind, most frequent first ("create 3, fsync 2").
    public var stalledOperations: [(operation: String, count: Int)] = []
    /// Median over the faults of the time from the fault until the last
    /// operation it caught was done, ns.
    public var waited: Double?
    /// Medians over the faults' handover timelines, in ns: the floor (fault
    /// to the new server's first request read), and its keeper's and
    /// kernel's parts; nil without handovers.
    public var floor: Double?, keeperPart: Double?, standbyPart: Double?, kernelPart: Double?
    /// The handover timeline of the fault with the median outage.
    public var medianHandover: HandoverTimeline?
    /// Failed operations over the whole run.
    public var applicationErrors: UInt64
    /// Resent requests, and those recognised as already done.
    public var resent: UInt64, recognised: UInt64
    /// "ok", "FAILED", or nil without an integrity check.
    public var integrity: String?
    /// Real-program clients that failed, of how many ("0/4"); nil without clients.
    public var clientsFailed: String?
    /// How requests and file data travelled, from what the first server
    /// negotiated: "/dev/fuse", "/dev/fuse+passthrough", "io_uring",
    /// "io_uring+passthrough"; nil for a target without our server.
    public var transport: String?

    /// The transport of a server's report (see `transport`).
    public static func transport(_ s: ServerReport?) -> String? {
        guard let s, let flags = s.initFlagsAdded else { return nil }
        let base = (s.ioUringQueues ?? 0) > 0 ? "io_uring" : "/dev/fuse"
        return base + (flags.contains("PASSTHROUGH") ? "+passthrough" : "")
    }

    /// `stalledOperations` in words: "create 3, fsync 2".
    public var stalledOperationsText: String {
        stalledOperations.map { "\($0.operation) \($0.count)" }.joined(separator: ", ")
    }

    /// The summary of `run`.
    public init(_ run: RunResult) {
        let all = (run.faults ?? []).filter(\.triggered)
        let fs = all.filter { $0.kind != "death" }
        deaths = all.count - fs.count
        abandoned = run.abandoned
        // The strategy, with the sweep point and trial that tell its runs apart.
        strategy = [run.strategy ?? run.target, run.sweep.map { "\($0.field)=\($0.value.compact)" },
                    run.trial.map { "trial \($0)" }].compactMap { $0 }.joined(separator: " · ")
        faults = fs.count
        outage = Statistics.median(fs.compactMap { $0.outageToServerReply?.value })
        resume = Statistics.median(fs.compactMap { $0.outageToClientResume?.value })
        // Without client threads no operation was timed across a fault.
        stall = run.threads > 0 ? Statistics.median(fs.map(\.clientStall.value)) : nil
        // A fault that was not back before the next counts as longer than
        // any that was (infinity), not as no fault at all.
        recovery = Statistics.median(fs.compactMap {
            $0.recoveryToThroughput?.value ?? ($0.notRecoveredWithin != nil ? .infinity : nil)
        })
        recoveryControl = run.recoveryControl?.value
        waited = run.threads > 0 ? Statistics.median(fs.compactMap { $0.waitAfterFault?.value }) : nil
        let stalled = fs.compactMap { f in f.longestStall.map { (f, $0) } }
        stallBeforeFault = Statistics.median(stalled.map { $0.1.beforeFault.value })
        stallUntilResend = Statistics.median(stalled.map { f, l in min(l.afterFault.value, f.handover?.resendSent.value ?? .infinity) })
        stallAfterResend = Statistics.median(stalled.compactMap { f, l in
            f.handover.map { max(0, l.afterFault.value - $0.resendSent.value) }
        })
        resentAnsweredAfterResend = Statistics.median(fs.compactMap(\.handover).compactMap { h in
            h.resentAnswered.map { max(0, $0.value - h.resendSent.value) }
        })
        stalledOperations = Dictionary(stalled.map { ($0.1.operation, 1) }, uniquingKeysWith: +)
            .sorted { ($0.value, $1.key) > ($1.value, $0.key) }.map { (operation: $0.key, count: $0.value) }
        let handovers = fs.compactMap(\.handover)
        floor = Statistics.median(handovers.compactMap(\.floor))
        keeperPart = Statistics.median(handovers.map(\.keeperPart))
        standbyPart = Statistics.median(handovers.compactMap(\.standbyPart))
        kernelPart = Statistics.median(handovers.compactMap(\.kernelPart))
        let byOutage = handovers.filter { $0.firstReply != nil }.sorted { $0.firstReply!.value < $1.firstReply!.value }
        medianHandover = byOutage.isEmpty ? nil : byOutage[(byOutage.count - 1) / 2]
        applicationErrors = run.total.errorCount
        resent = fs.reduce(0) { $0 + $1.resentRequests }
        recognised = fs.reduce(0) { $0 + $1.resentRecognised }
        integrity = run.integrity.map { $0.clean ? "ok" : "FAILED" }
        clientsFailed = run.clients.map { cs in "\(cs.filter { !$0.passed }.count)/\(cs.count)" }
        transport = Self.transport(run.server)
    }
}

/// One row of a revalidation sweep's table (a run with primed inodes and a
/// fault), shared by the text summary and the HTML report.
public struct SweepRow: Sendable {
    /// The strategy (or target).
    public var strategy: String
    /// Cached inodes.
    public var inodes: Int
    /// Kill to the new server's first reply, ns.
    public var outage: Double?
    /// The storm's server time, ns.
    public var storm: Double?
    /// Invalidation notifications sent.
    public var notifications: UInt64
    /// Until every cached file was usable again, ns.
    public var allUsable: Double?
    /// LOOKUP and GETATTR requests the revalidation caused.
    public var lookups: UInt64
    /// p99 latency in the second after the fault, ns.
    public var p99After: UInt64
    /// Kernel slab bytes per cached inode the priming added (all caches).
    public var slabPerInode: Double?

    /// The rows of `runs`, by strategy and then cached inodes.
    public static func rows(_ runs: [RunResult]) -> [SweepRow] {
        runs.sorted { ($0.strategy ?? "", $0.primedFiles ?? 0) < ($1.strategy ?? "", $1.primedFiles ?? 0) }
            .compactMap { r in
                guard let f = r.faults?.first(where: \.triggered) else { return nil }
                return SweepRow(strategy: r.strategy ?? r.target, inodes: r.primedFiles ?? 0,
                                outage: f.outageToServerReply?.value, storm: f.revalidation?.serverTime.value,
                                notifications: f.revalidation?.notifications ?? 0, allUsable: f.revalidationSweep?.value,
                                lookups: f.revalidationLookups, p99After: f.latencyAfter.p99,
                                slabPerInode: r.primedSlabBytes.flatMap { s in
                                    (r.primedFiles ?? 0) > 0 ? Double(s.values.reduce(0, +)) / Double(r.primedFiles!) : nil
                                })
            }
    }
}

extension LinearFit {
    /// The slope per cached inode in words ("88.49 us", "1.000 requests").
    public var perInode: String {
        unit == "ns" ? String(format: "%.2f us", slope / 1e3) : String(format: "%.3f %@", slope, unit)
    }
}
