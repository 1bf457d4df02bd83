// The server's own read and writev on /dev/fuse (fuse_session_custom_io):
// - a fresh server saves the connection's FUSE_INIT request in the stats
//   region, where the harness (the keeper of the connection) finds it;
// - a resuming server hands libfuse that saved INIT first (libfuse 3.14 has
//   no other way to serve an initialised connection) and swallows libfuse's
//   reply to it, which the kernel must never see; until then no thread
//   reads the device (libfuse fails requests that come before INIT);
// - a warm standby handles that saved INIT while the server it stands by
//   for still serves, then holds every thread at its gate until the
//   harness's go: the first read after the go takes a request at once;
// - every request resent by FUSE_NOTIFY_RESEND (bit 63 of its unique) is
//   counted, and flagged for the thread that serves it;
// - the INIT reply gains the flags libfuse 3.14 cannot set and the kernel
//   offered: FUSE_HANDLE_KILLPRIV_V2 (then requests that ask the server to
//   kill suid/sgid are flagged for the thread that serves them),
//   FUSE_PARALLEL_DIROPS, and FUSE_PASSTHROUGH with max_stack_depth;
// - an OPEN or CREATE reply of a passthrough open gains FOPEN_PASSTHROUGH
//   and its backing id (set by the thread that serves it);
// - every request read and every reply written is counted, with its bytes,
//   by opcode (the reconciliation of requests against client operations).
import Contract
import CFuseShim
import Glibc
import Synchronization

/// Custom I/O of one session.
final class ServerIO: Sendable {
    /// The unique given to the replayed INIT; its reply is swallowed.
    static let resumeUnique: UInt64 = 0x4000_0000_0000_F00D
    static let resendBit: UInt64 = 1 << 63
    static let initOpcode: UInt32 = 26

    /// FUSE_HANDLE_KILLPRIV_V2, FUSE_PARALLEL_DIROPS and FUSE_PASSTHROUGH
    /// (include/uapi/linux/fuse.h; libfuse 3.14's headers predate the last).
    static let killPrivV2Flag: UInt64 = 1 << 28
    static let parallelDiropsFlag: UInt64 = 1 << 18
    static let passthroughFlag: UInt64 = 1 << 37
    static let ioUringFlag: UInt64 = 1 << 41

    let stats: StatsRegion
    private let pendingInit: Mutex<[UInt8]?>
    private let swallowing = Atomic<Bool>(false)
    private let captured = Atomic<Bool>(false)
    /// Flags to add to the INIT reply where the kernel offers them.
    let wantedFlags: UInt64
    /// The wanted flags the kernel offered: what this connection has.
    private let granted = Atomic<UInt64>(0)
    /// The unique of the connection's INIT, whose reply is amended (0: none).
    private let initUnique = Atomic<UInt64>(0)
    /// Called with the node id of a passthrough open whose reply the kernel
    /// refused (the open never happened: its backing id is released).
    let onLostPassthroughOpen: @Sendable (UInt64) -> Void
    /// A warm standby's go pipe (-1: no gate, or the gate is open).
    private let gate: Mutex<Int32>
    /// Where a warm standby says it is through its gate (a byte, then the
    /// descriptor is closed): the harness, asleep until then, is woken by
    /// the standby itself, on the CPU the standby runs on (-1: nobody).
    private let gatePassedFd: Int32
    private let gateOpen: Atomic<Bool>
    /// Work for the gate, in order (taking over the open files of
    /// handover-state, an eager revalidation); nil once the gate is open,
    /// or without a gate.
    private let gateWork: Mutex<[@Sendable () -> Void]?>
    /// Whether this server resumes a connection: its first request is timed.
    private let resuming: Bool
    /// A warm standby's rehearsal (Rehearsal.swift), between the saved
    /// INIT's reply and its readiness; nil without one, or once it is over.
    private let rehearsal: Mutex<Rehearsal?>
    /// A warm standby's record of the uniques it read (the intent log's
    /// table, in its own memory): a resent request found here is one it had
    /// read itself before the resend (let go at the death notice, it serves
    /// while FUSE_NOTIFY_RESEND requeues every unanswered request).
    private let ownReads: IntentLog?

    init(stats: StatsRegion, resumeInit: [UInt8]?, wantedFlags: UInt64, gateFd: Int32? = nil,
         gatePassedFd: Int32? = nil, rehearsal: Rehearsal? = nil, onLostPassthroughOpen: @escaping @Sendable (UInt64) -> Void) {
        self.stats = stats
        self.rehearsal = Mutex(resumeInit != nil && gateFd != nil ? rehearsal : nil)
        gate = Mutex(gateFd ?? -1)
        self.gatePassedFd = gatePassedFd ?? -1
        gateOpen = Atomic(gateFd == nil)
        gateWork = Mutex(gateFd == nil ? nil : [])
        resuming = resumeInit != nil
        ownReads = resumeInit != nil && gateFd != nil ? IntentLog() : nil
        self.wantedFlags = wantedFlags
        self.onLostPassthroughOpen = onLostPassthroughOpen
        pendingInit = Mutex(resumeInit)
        fbshim_set_splice_stats(stats.region)
        swallowing.store(resumeInit != nil, ordering: .relaxed)
        if let resumeInit {
            // What the first instance's INIT reply gave this connection.
            granted.store(resumeInit.withUnsafeBytes { fbshim_init_offered_flags($0.baseAddress, $0.count) }
                          & wantedFlags, ordering: .relaxed)
        }
    }

    /// Whether requests that ask to kill suid/sgid reach this server (the
    /// connection has FUSE_HANDLE_KILLPRIV_V2).
    var killPrivV2: Bool { granted.load(ordering: .relaxed) & Self.killPrivV2Flag != 0 }
    /// Whether the connection has FUSE over io_uring.
    var ioUring: Bool { granted.load(ordering: .relaxed) & Self.ioUringFlag != 0 }
    /// Called once the connection is initialised: after this server's INIT
    /// reply was written, or once a resuming server's replayed INIT was
    /// answered (io_uring queues can be registered only then).
    let onConnectionReady = Mutex<(@Sendable () -> Void)?>(nil)

    private func connectionReady() {
        if let f = onConnectionReady.withLock({ f -> (@Sendable () -> Void)? in defer { f = nil }; return f }) { f() }
    }

    /// Whether opens may be answered with FOPEN_PASSTHROUGH.
    var passthrough: Bool { granted.load(ordering: .relaxed) & Self.passthroughFlag != 0 }

    /// libfuse's read of one request.
    func read(_ fd: Int32, _ buf: UnsafeMutableRawPointer, _ len: Int) -> Int {
        if let initBytes = pendingInit.withLock({ p -> [UInt8]? in defer { p = nil }; return p }) {
            let n = min(initBytes.count, len)
            initBytes.withUnsafeBytes { buf.copyMemory(from: $0.baseAddress!, byteCount: n) }
            buf.storeBytes(of: Self.resumeUnique.littleEndian, toByteOffset: 8, as: UInt64.self)
            fbshim_set_thread_resent(0)
            fbshim_set_thread_kill_suidgid(0)
            fbshim_set_thread_opcode(Self.initOpcode)
            return n
        }
        // A resuming server: no real request may be read before libfuse has
        // handled the replayed INIT (its reply is the last step): libfuse
        // answers any other request that arrives before INIT with EIO, and a
        // second worker thread, started while the first handled INIT, read
        // resent and new requests from the live connection and failed them
        // (the write EIO of issue 11; bursts of EIO on every operation).
        while swallowing.load(ordering: .acquiring) {
            // `over` once the last request is handed out (or none is left).
            let (next, over) = rehearsal.withLock { r in (r?.next(), r?.finished ?? false) }
            if over { endSwallowing() }
            if let r = next {
                let n = min(r.bytes.count, len)
                r.bytes.withUnsafeBytes { buf.copyMemory(from: $0.baseAddress!, byteCount: n) }
                fbshim_set_thread_resent(0)
                fbshim_set_thread_kill_suidgid(0)
                fbshim_set_thread_unique(r.unique)
                fbshim_set_thread_opcode(r.opcode)
                fbshim_atomic_add(&stats.region.pointee.rehearsed, 1)
                return n
            }
            usleep(50)
        }
        if !gateOpen.load(ordering: .acquiring) { passGate() }
        // Dead (the harness stopped its reads at the death notice): it must
        // take no request it would only take to its grave, and the harness
        // may resend without waiting for a thread that serves.
        if fbshim_reader_enter(stats.region) != 0 {
            while true { pause() }
        }
        let n = Glibc.read(fd, buf, len)
        fbshim_reader_leave(stats.region)
        guard n >= 40 else { return n }
        if resuming { stats.markFirstRequest() }
        note(UnsafeRawPointer(buf), n)
        return n
    }

    /// The end of the swallowed replies (the replayed INIT's, and the
    /// rehearsal's): real requests may be read, and the server is ready.
    private func endSwallowing() {
        rehearsal.withLock { $0 = nil }
        swallowing.store(false, ordering: .releasing)
        connectionReady()
    }

    /// Runs `work` when the gate opens, after the work given before it,
    /// before the first request is read; at once without a gate.
    func atGate(_ work: @escaping @Sendable () -> Void) {
        let now = gateWork.withLock { w -> Bool in
            guard w != nil else { return true }
            w!.append(work)
            return false
        }
        if now { work() }
    }

    /// A warm standby's gate: the first thread here waits for the
    /// harness's go (a byte, or EOF when the standby is not needed), runs
    /// the gate's work, and opens the gate; the others wait on the lock.
    private func passGate() {
        gate.withLock { fd in
            guard fd >= 0 else { return }
            var b: UInt8 = 0
            var n = 0
            repeat { n = Glibc.read(fd, &b, 1) } while n < 0 && errno == EINTR
            close(fd)
            fd = -1
            for work in gateWork.withLock({ w in defer { w = nil }; return w ?? [] }) { work() }
            stats.markGo()
            gateOpen.store(true, ordering: .releasing)
            if gatePassedFd >= 0 {
                // Only after a go: at EOF (not needed) nobody reads the pipe.
                if n == 1 { _ = Glibc.write(gatePassedFd, "g", 1) }
                close(gatePassedFd)
            }
        }
    }

    /// Records `unique` as read by this server (a first delivery), or, for a
    /// resent one, tells whether this server had read it before (counted).
    @inline(__always)
    private func readBefore(_ unique: UInt64, resent: Bool) -> Bool {
        guard let ownReads, ownReads.begin(unique), resent else { return false }
        fbshim_atomic_add(&stats.region.pointee.resent_own, 1)
        return true
    }

    /// A request as read (from /dev/fuse, or rebuilt from an io_uring
    /// entry), before libfuse serves it on this thread: counted, and its
    /// facts set for the thread.
    func note(_ buf: UnsafeRawPointer, _ n: Int) {
        let opcode = buf.loadUnaligned(fromByteOffset: 4, as: UInt32.self)
        let unique = buf.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
        let resent = unique & Self.resendBit != 0
        fbshim_stats_received(stats.region, opcode, UInt64(n))
        fbshim_set_thread_opcode(opcode)
        fbshim_set_thread_resent(readBefore(unique & ~Self.resendBit, resent: resent) ? 2 : resent ? 1 : 0)
        fbshim_set_thread_unique(unique & ~Self.resendBit)
        fbshim_set_thread_kill_suidgid(killPrivV2 ? fbshim_request_kills_suidgid(buf, n) : 0)
        if resent { fbshim_atomic_add(&stats.region.pointee.resent, 1) }
        if opcode == Self.initOpcode && !captured.exchange(true, ordering: .relaxed) {
            stats.saveInit(buf, n)
            let add = fbshim_init_offered_flags(buf, n) & wantedFlags
            granted.store(add, ordering: .relaxed)
            initUnique.store(unique, ordering: .relaxed)
        }
    }

    /// libfuse's write of one reply or notification.
    func writev(_ fd: Int32, _ iov: UnsafeMutablePointer<iovec>, _ count: Int32) -> Int {
        if swallowing.load(ordering: .relaxed), count > 0, iov[0].iov_len >= 16 {
            let unique = iov[0].iov_base.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
            let total = (0..<Int(count)).reduce(0) { $0 + iov[$1].iov_len }
            if unique == Self.resumeUnique {
                if rehearsal.withLock({ r in r?.initAnswered(); return r == nil }) { endSwallowing() }
                return total
            }
            if Rehearsal.isRehearsal(unique) {
                var reply: [UInt8] = []
                for i in 0..<Int(count) {
                    reply += UnsafeRawBufferPointer(start: iov[i].iov_base, count: iov[i].iov_len)
                }
                rehearsal.withLock { $0?.answered(unique, reply: reply) }
                fbshim_set_thread_opcode(0)
                return total
            }
        }
        defer { fbshim_set_thread_opcode(0) }
        var initReply = false
        if count >= 2, iov[0].iov_len >= 16, case let u = initUnique.load(ordering: .relaxed), u != 0,
           iov[0].iov_base.loadUnaligned(fromByteOffset: 8, as: UInt64.self) == u {
            initUnique.store(0, ordering: .relaxed)
            let add = granted.load(ordering: .relaxed)
            _ = fbshim_init_reply_amend(iov, count, add, add & Self.passthroughFlag != 0 ? 1 : 0)
            stats.region.pointee.init_reply_added = add
            initReply = true
        }
        var backingNode: UInt64 = 0
        let backing = fbshim_take_thread_backing(&backingNode)
        if backing != 0 { _ = fbshim_open_reply_passthrough(iov, count, backing) }
        // A request that came through an io_uring queue is answered there.
        let n = fbshim_uring_thread_has_request() != 0 ? Int(fbshim_uring_reply(iov, count))
                                                       : fbshim_writev(fd, iov, count)
        if n > 0 {
            fbshim_stats_sent(stats.region, UInt64(n))
            // When the requests the resend re-delivered were answered.
            if fbshim_thread_resent() != 0 {
                fbshim_atomic_max(&stats.region.pointee.resent_replied_ns, fbshim_monotonic_ns())
            }
        }
        if backing != 0 && n < 0 { onLostPassthroughOpen(backingNode) }
        if initReply && n > 0 { connectionReady() }
        return n
    }
}
