// One measured run: a workload on one target.

/// The result of running one workload on one target.
public struct RunResult: Codable, Equatable, Sendable {
    /// "reference" (our FUSE server) or "native" (the backing directory).
    public var target: String
    /// The workload as actually run, defaults filled in.
    public var workload: JSONValue
    /// Wall-clock start of the measured phase, ISO 8601.
    public var startedAt: String
    /// Length of the measured phase in seconds.
    public var measuredSeconds: Double
    /// Client threads.
    public var threads: Int
    /// Per operation kind ("stat", "read", ...).
    public var operations: [String: OperationResult]
    /// All operations together.
    public var total: OperationResult
    /// Throughput over time.
    public var timeline: Timeline
    /// The FUSE server's own statistics (absent for native runs); the first
    /// instance when the server was restarted.
    public var server: ServerReport?
    /// The sweep point, when the workload swept a field.
    public var sweep: SweepPoint?
    /// Files stat'ed through the mount before the load so that the kernel
    /// had them cached ("prime" workloads).
    public var primedFiles: Int?
    /// Kernel slab memory the priming added (/proc/slabinfo, active objects
    /// times object size, after less before), by cache: fuse_inode,
    /// dentry, and the backing file system's inode cache; nil where not primed
    /// or /proc/slabinfo is unreadable.
    public var primedSlabBytes: [String: Int64]?
    /// True when the run took the fileset the run before it left (a
    /// workload whose operations never change it) instead of building it.
    public var filesetReused: Bool?
    /// Trial number (0-based) when the same run was repeated.
    public var trial: Int?
    /// Restart strategy, when the run injected faults.
    public var strategy: String?
    /// The faults and what each did.
    public var faults: [FaultEvent]?
    /// The faults' recovery measure (`FaultEvent.recoveryToThroughput`)
    /// taken at control instants, halfway between consecutive faults,
    /// where nothing happened: the median over them, the floor that the
    /// load's own swings give the measure in this very run (nil with fewer
    /// than two faults, or when none recovered before the next fault).
    public var recoveryControl: Metric?
    /// Server instances started after the first, in order.
    public var restartedServers: [ServerReport]?
    /// Verification of acknowledged writes after the run.
    public var integrity: IntegrityReport?
    /// Hazard scenario runs: what the probe measured and whether the
    /// expected outcome held.
    public var scenario: ScenarioResult?
    /// Resident memory of the (last) reference server at the end of the
    /// load, before unmounting (VmRSS).
    public var serverResidentBytes: UInt64?
    /// The command line of an external server (`--server`).
    public var serverCommand: String?
    /// The reference server's requests by opcode against the client
    /// operations that caused them (requests and bytes per operation), with
    /// any request read but not answered.
    public var accounting: RequestAccounting?
    /// Real programs run as the load, and what each did.
    public var clients: [ClientResult]?
    /// `labelText` as written in the result, for readers that tell runs apart.
    public var label: String?
    /// Stopped by a signal (Ctrl-C) during its measured phase: what it
    /// measured until then (nil: ran to its end).
    public var partial: Bool?
    /// Why the run stopped early because the server kept dying on its own
    /// after restarts (nil: it did not).
    public var abandoned: String?

    /// A run result from its parts.
    public init(target: String, workload: JSONValue, startedAt: String, measuredSeconds: Double, threads: Int,
                operations: [String: OperationResult], total: OperationResult, timeline: Timeline,
                server: ServerReport?) {
        self.target = target
        self.workload = workload
        self.startedAt = startedAt
        self.measuredSeconds = measuredSeconds
        self.threads = threads
        self.operations = operations
        self.total = total
        self.timeline = timeline
        self.server = server
    }

    /// What tells this run from the others of its document: target,
    /// strategy, sweep point and trial ("reference · handover-epoch ·
    /// fileset.filesPerDir=1000 · trial 2").
    public var labelText: String {
        [target, strategy, sweep.map { "\($0.field)=\($0.value.compact)" }, trial.map { "trial \($0)" }]
            .compactMap { $0 }.joined(separator: " · ")
    }

    /// The workload's name, when it has one.
    public var workloadName: String {
        if case .object(let o) = workload, case .string(let n)? = o["name"] { return n }
        return "?"
    }
}

/// One point of a sweep: the field and the value it had.
public struct SweepPoint: Codable, Equatable, Sendable {
    /// Field path, e.g. "fileset.filesPerDir".
    public var field: String
    /// Its value at this point.
    public var value: JSONValue

    /// A point.
    public init(field: String, value: JSONValue) {
        self.field = field
        self.value = value
    }
}
