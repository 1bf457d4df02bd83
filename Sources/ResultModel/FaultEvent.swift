// What one injected fault did, measured on both sides of the connection.

/// Requests by opcode in equal windows before a fault and after the restart.
public struct RevalidationCost: Codable, Equatable, Sendable {
    /// Window length in seconds (1, or shorter when the next fault came sooner).
    public var windowSeconds: Double
    /// Requests by opcode in the window before the fault (old server).
    public var requestsBefore: [String: UInt64]
    /// Requests by opcode in the window after the restart (new server).
    public var requestsAfter: [String: UInt64]
    /// Time the new server spent invalidating before serving (eager).
    public var serverTime: Metric
    /// Invalidation notifications sent by the new server.
    public var notifications: UInt64

    /// A cost from its parts.
    public init(windowSeconds: Double, requestsBefore: [String: UInt64], requestsAfter: [String: UInt64],
                serverTime: Metric, notifications: UInt64) {
        self.windowSeconds = windowSeconds
        self.requestsBefore = requestsBefore
        self.requestsAfter = requestsAfter
        self.serverTime = serverTime
        self.notifications = notifications
    }
}

/// One fault and its consequences.
public struct FaultEvent: Codable, Equatable, Sendable {
    /// Position in the run's fault schedule.
    public var index: Int
    /// "kill", "crash-in-op" or "hang".
    public var kind: String
    /// Details: "WRITE after", "0.5 s then resume", "after 20000 requests".
    public var detail: String?
    /// Seconds into the measured phase when the fault struck.
    public var atSeconds: Double
    /// False when the fault never fired (a crash-in-op whose opcode never came).
    public var triggered: Bool
    /// Whether a new server instance was started.
    public var restarted: Bool
    /// From the fault to the first reply of the new server (server clock).
    public var outageToServerReply: Metric?
    /// From the fault to the first successful completion, after the new
    /// server's first reply, of an operation that was in flight at the fault.
    public var outageToClientResume: Metric?
    /// Longest operation stalled by the fault: in flight at the fault, or
    /// started before the server answered again.
    public var clientStall: Metric
    /// The operation behind `clientStall`, and how its time falls around
    /// the fault (nil in results that predate it, or with none stalled).
    public var longestStall: StalledOperation?
    /// Operations in flight at the fault.
    public var operationsInFlight: UInt64
    /// Time until the throughput of successful operations is back to 90 %
    /// of its median over the second before the fault (10 ms resolution);
    /// absent when it did not recover before the next fault or the end.
    public var recoveryToThroughput: Metric?
    /// When it did not recover (`recoveryToThroughput` absent) though the
    /// second before it gave a baseline: how long it was watched, to the
    /// next fault or the end. The summary's `recover` counts it as longer
    /// than any recovery, rather than leave the fault out.
    public var notRecoveredWithin: Metric?
    /// Latency of operations completing within 1 s after the fault.
    public var latencyAfter: LatencyDistribution
    /// Operations that failed within 1 s after the fault.
    public var applicationErrors: Metric
    /// The same by operation and errno name.
    public var errorsAfter: [String: [String: UInt64]]
    /// Requests re-delivered by FUSE_NOTIFY_RESEND to the new server.
    public var resentRequests: UInt64
    /// Resent non-idempotent requests that failed because they had already
    /// taken effect (an UNLINK answering ENOENT, a CREATE answering EEXIST).
    public var resentAnomalies: UInt64
    /// Resent non-idempotent requests recognised as already done (from the
    /// intent log) and answered as the first attempt would have been.
    public var resentRecognised: UInt64 = 0
    /// Of `resentRequests`, those the new server had read itself before the
    /// resend: a standby let go at the death notice serves while the dead
    /// server's threads leave, and FUSE_NOTIFY_RESEND requeues what it has
    /// not answered yet with the rest (nil in results that predate it).
    public var resentOwn: UInt64?
    /// File handles of the old server reopened by the new one.
    public var reopenedHandles: UInt64
    /// File handles of the old server refused by the new one (EBADF).
    public var refusedHandles: UInt64
    /// Requests for node ids the new server could not resolve (ESTALE).
    public var unknownNodeIds: UInt64
    /// Revalidation requests around the restart.
    public var revalidation: RevalidationCost?
    /// Time, right after the restart, to stat every fileset file again
    /// through the mount: until every file cached before the fault is usable
    /// ("revalidate" faults).
    public var revalidationSweep: Metric?
    /// Requests the new server saw from its start to the end of that sweep
    /// (the load's own included), by opcode.
    public var revalidationSweepRequests: [String: UInt64]?
    /// From the fault until the last operation it caught was done (in
    /// flight at the fault, or started before the server answered again):
    /// the part of `clientStall` that came after the fault.
    public var waitAfterFault: Metric?
    /// Where the time of a handover went (kept-connection restarts).
    public var handover: HandoverTimeline?

    /// An event; the measurements are filled in by the supervisor.
    public init(index: Int, kind: String, detail: String?, atSeconds: Double) {
        self.index = index
        self.kind = kind
        self.detail = detail
        self.atSeconds = atSeconds
        triggered = false
        restarted = false
        clientStall = Metric(0, unit: "ns", better: .lower)
        operationsInFlight = 0
        latencyAfter = .empty
        applicationErrors = Metric(0, unit: "ops", better: .lower)
        errorsAfter = [:]
        resentRequests = 0
        resentAnomalies = 0
        reopenedHandles = 0
        refusedHandles = 0
        unknownNodeIds = 0
    }
}

extension FaultEvent {
    /// LOOKUP and GETATTR requests during the revalidation sweep: the
    /// requests that revalidating cached inodes cost.
    public var revalidationLookups: UInt64 {
        (revalidationSweepRequests ?? [:]).filter { ["LOOKUP", "GETATTR"].contains($0.key) }.values.reduce(0, +)
    }
}

extension Metric {
    /// A duration in nanoseconds (lower is better).
    public static func nanoseconds(_ v: UInt64) -> Metric { Metric(Double(v), unit: "ns", better: .lower) }
}

/// Where the time of one handover went, each mark in ns after the fault
/// (nil: the step did not happen, such as a go without a warm standby).
/// The longest operation a fault stalled: what it was, and its time before
/// and after the fault, which add up to `FaultEvent.clientStall` (for one
/// started after the fault, before the server answered again: none before,
/// and all of it after).
public struct StalledOperation: Codable, Equatable, Sendable {
    /// The operation (create, fsync, read...).
    public var operation: String
    /// From its start to the fault.
    public var beforeFault: Metric
    /// From the fault to its end.
    public var afterFault: Metric

    public init(operation: String, beforeFault: Metric, afterFault: Metric) {
        self.operation = operation
        self.beforeFault = beforeFault
        self.afterFault = afterFault
    }
}

/// The harness's marks: the death noticed, the dead server's threads out
/// of the device, FUSE_NOTIFY_RESEND sent, the standby's go sent. The new
/// server's: through its gate, first request read, first reply written.
public struct HandoverTimeline: Codable, Equatable, Sendable {
    public var deathNoticed: Metric
    public var threadsOut: Metric
    public var resendSent: Metric
    public var goSent: Metric?
    public var gatePassed: Metric?
    public var firstRequestRead: Metric?
    public var firstReply: Metric?
    /// The new server's latest reply to a request the resend re-delivered
    /// (nil: none came, or a result that predates it).
    public var resentAnswered: Metric?

    public init(deathNoticed: Metric, threadsOut: Metric, resendSent: Metric, goSent: Metric? = nil,
                gatePassed: Metric? = nil, firstRequestRead: Metric? = nil, firstReply: Metric? = nil,
                resentAnswered: Metric? = nil) {
        self.resentAnswered = resentAnswered
        self.deathNoticed = deathNoticed
        self.threadsOut = threadsOut
        self.resendSent = resendSent
        self.goSent = goSent
        self.gatePassed = gatePassed
        self.firstRequestRead = firstRequestRead
        self.firstReply = firstReply
    }

    /// The keeper's part of the floor: fault to the moment the new server
    /// may read (its go sent; without a standby, the resend).
    public var keeperPart: Double { (goSent ?? resendSent).value }
    /// The standby's part: from its go to its gate open (waking it, and
    /// what it takes on there: the open files of handover-state, the storm
    /// of handover-eager); nil without a warm standby.
    public var standbyPart: Double? { gatePassed.map { $0.value - keeperPart } }
    /// The kernel's part: from then to the new server's first request read.
    public var kernelPart: Double? {
        firstRequestRead.map { $0.value - (gatePassed?.value ?? keeperPart) }
    }
    /// The floor: fault to the first request in the new server's hands,
    /// before any work of the server's own.
    public var floor: Double? { firstRequestRead?.value }
}
