// The server's statistics live in a file mapped MAP_SHARED: the server
// writes with relaxed atomics, the harness reads, and the counts survive a
// crashed server. Layout: struct fbshim_stats_region in CFuseShim.h.
import CFuseShim
import Glibc

/// A mapped statistics region.
/// Unchecked Sendable: the mapped region is only read and written through
/// the shim's atomics (relaxed counters; release/acquire for the crash
/// hook), across threads and processes alike.
public final class StatsRegion: @unchecked Sendable {
    /// The mapped struct.
    public let region: UnsafeMutablePointer<fbshim_stats_region>
    private let size = MemoryLayout<fbshim_stats_region>.size

    /// An anonymous region, for a server without a stats file.
    public init() {
        let p = mmap(nil, MemoryLayout<fbshim_stats_region>.size, PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0)
        precondition(p != MAP_FAILED, "mmap of an anonymous stats region failed")
        region = p!.bindMemory(to: fbshim_stats_region.self, capacity: 1)
        initialize()
    }

    /// Creates (truncating) or opens a stats file. `create` initialises it;
    /// `writable` maps an existing one for writing (to arm faults).
    public init(path: String, create: Bool, writable: Bool = false) throws(SysError) {
        let fd = create ? open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
                        : open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC)
        if fd < 0 { throw SysError.current }
        defer { close(fd) }
        if create, ftruncate(fd, off_t(MemoryLayout<fbshim_stats_region>.size)) != 0 {
            throw SysError.current
        }
        var st = stat()
        if fstat(fd, &st) != 0 { throw SysError.current }
        if Int(st.st_size) < MemoryLayout<fbshim_stats_region>.size { throw SysError(EINVAL) }
        let prot = create || writable ? (PROT_READ | PROT_WRITE) : PROT_READ
        let p = mmap(nil, MemoryLayout<fbshim_stats_region>.size, prot, MAP_SHARED, fd, 0)
        if p == MAP_FAILED { throw SysError.current }
        region = p!.bindMemory(to: fbshim_stats_region.self, capacity: 1)
        if create {
            initialize()
        } else if region.pointee.magic != FBSHIM_STATS_MAGIC
                    || region.pointee.version != FBSHIM_STATS_VERSION {
            munmap(p, MemoryLayout<fbshim_stats_region>.size)
            throw SysError(EPROTO)
        }
    }

    deinit { munmap(region, size) }

    private func initialize() {
        region.pointee.pid = UInt64(getpid())
        region.pointee.started_ns = fbshim_monotonic_ns()
        region.pointee.version = FBSHIM_STATS_VERSION
        region.pointee.magic = FBSHIM_STATS_MAGIC
    }

    /// Counts one answered request (call before its reply is written).
    @inline(__always)
    public func count(_ op: Opcode, failed: Bool) {
        fbshim_stats_count(region, Int32(op.rawValue), failed ? 1 : 0, fbshim_monotonic_ns())
    }

    /// Records a request's service time, from `start` to now (call once its
    /// reply is written).
    @inline(__always)
    public func time(_ op: Opcode, start: UInt64) {
        fbshim_stats_time(region, Int32(op.rawValue), fbshim_monotonic_ns() &- start)
    }

    /// Marks FUSE_INIT as handled.
    public func markInit(protoMajor: UInt32, protoMinor: UInt32) {
        region.pointee.proto_major = protoMajor
        region.pointee.proto_minor = protoMinor
        fbshim_atomic_store(&region.pointee.init_ns, fbshim_monotonic_ns())
    }

    /// Marks a warm standby let through its gate.
    public func markGo() { fbshim_atomic_store(&region.pointee.go_ns, fbshim_monotonic_ns()) }

    /// Marks the first request read after the gate (once: later calls are
    /// one relaxed load).
    public func markFirstRequest() {
        if fbshim_atomic_load(&region.pointee.first_request_ns) == 0 {
            fbshim_atomic_store(&region.pointee.first_request_ns, fbshim_monotonic_ns())
        }
    }

    /// Where in a request an injected crash happens.
    public enum CrashPhase: UInt32, Sendable, Codable, CaseIterable {
        /// Before the work.
        case before = 1
        /// After the work, before the reply.
        case after = 2

        /// "before", "after".
        public var name: String { self == .before ? "before" : "after" }
    }

    /// Arms the crash hook: the server aborts while handling `op`.
    public func armCrash(_ op: Opcode, phase: CrashPhase) {
        // Disarm, write the target, then arm with release ordering: a server
        // thread that sees the flag (acquire) sees this opcode and phase.
        fbshim_atomic_store_release(&region.pointee.crash_armed, 0)
        region.pointee.crash_opcode = UInt32(op.rawValue)
        region.pointee.crash_phase = phase.rawValue
        fbshim_atomic_store_release(&region.pointee.crash_armed, 1)
    }

    /// Arms the kill fault: the server SIGKILLs itself after `n` more requests.
    public func armKill(afterRequests n: UInt64) {
        fbshim_atomic_store(&region.pointee.kill_after_requests, fbshim_atomic_load(&region.pointee.requests) + n)
    }

    /// The crash hook: one relaxed load when disarmed.
    @inline(__always)
    public func crashIfArmed(_ op: Opcode, phase: CrashPhase) {
        guard fbshim_atomic_load_acquire(&region.pointee.crash_armed) != 0,
              region.pointee.crash_opcode == UInt32(op.rawValue),
              region.pointee.crash_phase == phase.rawValue else { return }
        fbshim_atomic_store(&region.pointee.crash_ns, fbshim_monotonic_ns())
        fbshim_death_notice()
        // Abort as a C server would: at once, with no crash handler. The
        // Swift runtime's backtracer would hold this thread for a few hundred
        // ms while the others went on serving.
        signal(SIGABRT, SIG_DFL)
        abort()
    }

    /// Counts a request that named a node id the server could not resolve.
    public func countUnknownNode() { fbshim_atomic_add(&region.pointee.unknown_nodes, 1) }

    /// Publishes node-table gauges.
    public func setNodeGauges(nodes: Int, cachedFds: Int) {
        fbshim_atomic_store(&region.pointee.nodes, UInt64(nodes))
        fbshim_atomic_store(&region.pointee.cached_fds, UInt64(cachedFds))
    }
}
