// Shared, lock-free state between the load threads and whoever watches
// them: a stop flag and per-thread progress counters.
import Synchronization

/// Progress of one load thread.
public final class WorkerProgress: Sendable {
    /// Operations completed (all phases).
    public let ops = Atomic<UInt64>(0)
    /// Operations failed (all phases).
    public let errors = Atomic<UInt64>(0)
    /// Start time (monotonic ns) of the operation in flight, 0 when idle.
    public let inFlightSince = Atomic<UInt64>(0)

    init() {}
}

/// Control of a running load.
public final class LoadControl: Sendable {
    /// Set to stop every thread after its current operation.
    public let stopFlag = Atomic<Bool>(false)
    /// Monotonic time of the latest fault (0: none yet).
    public let faultNs = Atomic<UInt64>(0)
    /// Index of the latest fault.
    public let faultIndex = Atomic<Int>(-1)
    /// The null target: threads pick, time and record operations but make
    /// no system call (the load generator's own cost).
    public let null: Bool

    /// Announces fault `index`, injected at `ns`: operations are attributed
    /// to the latest fault from then on.
    public func markFault(_ index: Int, at ns: UInt64) {
        faultIndex.store(index, ordering: .relaxed)
        faultNs.store(ns, ordering: .releasing)
    }
    /// One entry per thread.
    public let workers: [WorkerProgress]

    /// Control for `threads` threads.
    public init(threads: Int, null: Bool = false) {
        workers = (0..<threads).map { _ in WorkerProgress() }
        self.null = null
    }

    /// Asks every thread to stop.
    public func stop() { stopFlag.store(true, ordering: .relaxed) }

    /// Total completed operations.
    public var totalOps: UInt64 { workers.reduce(0) { $0 + $1.ops.load(ordering: .relaxed) } }
    /// Total failed operations.
    public var totalErrors: UInt64 { workers.reduce(0) { $0 + $1.errors.load(ordering: .relaxed) } }
    /// The oldest operation still in flight, as its start time; nil when none.
    public var oldestInFlight: UInt64? {
        workers.map { $0.inFlightSince.load(ordering: .relaxed) }.filter { $0 != 0 }.min()
    }
}
