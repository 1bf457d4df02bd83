// The load part of a workload: threads, pacing, phases, fileset, mix.

/// Files and directories built before the measured phase.
public struct FilesetSpec: Codable, Equatable, Sendable {
    /// Directories under data/.
    public var dirs: Int = 4
    /// Files in each directory.
    public var filesPerDir: Int = 64
    /// Size of every file in bytes.
    public var fileSize: Int = 16 * 1024

    /// Defaults.
    public init() {}

    /// Total number of files.
    public var fileCount: Int { dirs * filesPerDir }
}

/// One entry of the operation mix.
public struct OpSpec: Codable, Equatable, Sendable {
    /// The operation.
    public var op: OpKind
    /// Relative weight (probability = weight / sum of weights).
    public var weight: Double
    /// Bytes per read or write call.
    public var blockSize: Int
    /// Bytes written per operation (write, create).
    public var size: Int

    /// An entry; sizes default per operation.
    public init(op: OpKind, weight: Double, blockSize: Int? = nil, size: Int? = nil) {
        self.op = op
        self.weight = weight
        self.blockSize = blockSize ?? op.defaultBlockSize
        self.size = size ?? op.defaultSize(blockSize: self.blockSize)
    }
}

/// Everything the load generator needs.
public struct LoadSpec: Codable, Equatable, Sendable {
    /// Client threads.
    public var threads: Int = 1
    /// Target rate in operations per second over all threads (open loop);
    /// nil means closed loop (each thread issues its next operation at once).
    public var rate: Double?
    /// Seconds run before measuring.
    public var warmup: Double = 1
    /// Seconds measured (with `operations`, the most the measured phase may take).
    public var duration: Double = 5
    /// Operations per thread in the measured phase: the phase ends when
    /// every thread has done this many (nil: it ends after `duration`).
    /// With no warm-up, a seed and one thread, the run issues exactly the
    /// same system calls on any machine.
    public var operations: Int?
    /// Random seed; the same seed gives every thread the same sequence.
    public var seed: UInt64 = 1
    /// Files built before the run.
    public var fileset = FilesetSpec()
    /// Operation mix.
    public var mix: [OpSpec] = [OpSpec(op: .stat, weight: 1)]

    /// Defaults.
    public init() {}
}
