// What the FUSE server saw: per-opcode counts and service times, read from
// its shared statistics region.

/// Requests of one opcode, as served.
public struct OpcodeReport: Codable, Equatable, Sendable {
    /// Requests answered.
    public var count: UInt64
    /// Requests answered with an error.
    public var errors: UInt64
    /// Time from the callback's start until its reply was written (a
    /// spliced READ reply included).
    public var serviceTime: LatencyDistribution
    /// Requests read from /dev/fuse (answered or not: the difference is
    /// requests lost in a crash, or still in flight).
    public var received: UInt64?
    /// Bytes of those requests, headers included.
    public var requestBytes: UInt64?
    /// Bytes of the replies written for them, headers included.
    public var replyBytes: UInt64?

    /// A report from its parts.
    public init(count: UInt64, errors: UInt64, serviceTime: LatencyDistribution, received: UInt64? = nil,
                requestBytes: UInt64? = nil, replyBytes: UInt64? = nil) {
        self.count = count
        self.errors = errors
        self.serviceTime = serviceTime
        self.received = received
        self.requestBytes = requestBytes
        self.replyBytes = replyBytes
    }
}

/// One server instance's statistics.
public struct ServerReport: Codable, Equatable, Sendable {
    /// Process id of the server.
    public var pid: Int
    /// FUSE protocol negotiated at INIT, "7.45".
    public var fuseProtocol: String?
    /// All requests answered.
    public var requests: UInt64
    /// Requests naming a node id the server could not resolve.
    public var unknownNodeIds: UInt64
    /// Node-table entries at the end.
    public var nodes: UInt64
    /// Cached O_PATH descriptors at the end.
    public var cachedDescriptors: UInt64
    /// Per opcode, by the kernel's name ("LOOKUP"); opcodes never seen are left out.
    public var opcodes: [String: OpcodeReport]
    /// Instance number (1 for the first server of a run).
    public var instance: Int = 1
    /// Requests re-delivered by FUSE_NOTIFY_RESEND.
    public var resentRequests: UInt64 = 0
    /// Resent non-idempotent requests that failed because they had taken effect.
    public var resentAnomalies: UInt64 = 0
    /// Resent requests recognised as already done (answered as the first attempt would have been).
    public var resentRecognised: UInt64 = 0
    /// Of the resent requests, those this server had read itself before the
    /// resend (a warm standby let go before it: served twice); nil when
    /// none, and in results that predate it.
    public var resentOwn: UInt64?
    /// Requests a warm standby served to itself before it was ready, with
    /// their replies swallowed (its rehearsal; counted nowhere else). nil:
    /// no rehearsal.
    public var rehearsedRequests: UInt64?
    /// Handles of earlier instances reopened.
    public var reopenedHandles: UInt64 = 0
    /// Handles of earlier instances refused.
    public var refusedHandles: UInt64 = 0
    /// Nanoseconds spent invalidating node ids before serving (eager).
    public var revalidationNs: UInt64 = 0
    /// Nanoseconds spent invalidating entries while serving (eager).
    public var entryRevalidationNs: UInt64 = 0
    /// Invalidation notifications sent.
    public var revalidationNotifications: UInt64 = 0
    /// Bytes of notifications written to /dev/fuse (FUSE_NOTIFY_*).
    public var notificationBytes: UInt64?
    /// INIT flags the server added to libfuse's reply, by the kernel's
    /// name ("PASSTHROUGH", "PARALLEL_DIROPS", "HANDLE_KILLPRIV_V2"): what
    /// the connection has beyond libfuse 3.14. nil: not recorded.
    public var initFlagsAdded: [String]?
    /// Opens answered in FUSE passthrough mode (their reads and writes never
    /// reach the server).
    public var passthroughOpens: UInt64?
    /// Backing files registered on the connection (FUSE_DEV_IOC_BACKING_OPEN).
    public var backingFilesRegistered: UInt64?
    /// Opens that could not be passthrough (the server log has the errno).
    public var passthroughRefused: UInt64?
    /// Of passthroughOpens, those answered with a backing id registered
    /// before (by an open still open, or idle since its last release),
    /// without opening the backing file.
    public var passthroughReused: UInt64?
    /// Backing files registered with no open when the server last changed
    /// them: kept, idle, until the kernel forgets their node (never on a
    /// connection that outlives its server).
    public var backingFilesIdle: UInt64?
    /// io_uring queues this server registered (0: none; /dev/fuse only).
    public var ioUringQueues: UInt64?
    /// Requests this server served through its io_uring queues.
    public var ioUringRequests: UInt64?
    /// Why io_uring queues could not be registered ("EOPNOTSUPP": the
    /// kernel did not offer FUSE over io_uring); nil when they were or
    /// none were asked for.
    public var ioUringError: String?

    /// A report from its parts.
    public init(pid: Int, fuseProtocol: String?, requests: UInt64, unknownNodeIds: UInt64, nodes: UInt64,
                cachedDescriptors: UInt64, opcodes: [String: OpcodeReport]) {
        self.pid = pid
        self.fuseProtocol = fuseProtocol
        self.requests = requests
        self.unknownNodeIds = unknownNodeIds
        self.nodes = nodes
        self.cachedDescriptors = cachedDescriptors
        self.opcodes = opcodes
    }
}
