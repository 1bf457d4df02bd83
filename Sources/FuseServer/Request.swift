// One FUSE request in flight: its libfuse handle, its opcode and when it
// arrived. Every reply goes through here, so that each is counted and
// timed exactly once, the crash hook can fire before or after the work,
// and resent requests that had already taken effect are recognised.
// A Request cannot be copied, and every reply consumes it: the compiler
// sees to it that each request is answered at most once, and one dropped
// without a reply (a path a handler forgot) answers EIO instead of leaving
// the caller hanging.
import Contract
import CFuseShim
import Glibc

/// A request being served.
struct Request: ~Copyable {
    let req: fuse_req_t
    let op: Opcode
    let start: UInt64
    /// The server's stats region, which outlives every request (a plain
    /// reference would make the request non-trivial to discard).
    private let statsRef: Unmanaged<StatsRegion>
    var stats: StatsRegion { statsRef.takeUnretainedValue() }
    /// Re-delivered by FUSE_NOTIFY_RESEND after a restart.
    let resent: Bool
    /// Resent, and read by this very server before the resend (a standby
    /// let go at the death notice): another of its threads served it, or
    /// is serving it, and that reply never reaches the kernel.
    let resentOwn: Bool
    /// A resent non-idempotent request whose first attempt had started: it
    /// may already have taken effect.
    let mayHaveTakenEffect: Bool
    /// A warm standby's rehearsal request: served, but neither counted nor
    /// timed (its reply reaches no one).
    let rehearsed: Bool

    init(_ req: fuse_req_t, _ op: Opcode, _ stats: StatsRegion, intents: IntentLog?) {
        self.req = req
        self.op = op
        statsRef = Unmanaged.passUnretained(stats)
        let resentFlag = fbshim_thread_resent()
        resent = resentFlag != 0
        resentOwn = resentFlag == 2
        rehearsed = Rehearsal.isRehearsal(fbshim_thread_unique())
        if op.isNonIdempotent, let intents {
            let started = intents.begin(fbshim_thread_unique())
            mayHaveTakenEffect = resent && started
        } else {
            mayHaveTakenEffect = false
        }
        start = fbshim_monotonic_ns()
        stats.crashIfArmed(op, phase: .before)
    }

    /// A request dropped without a reply answers EIO.
    deinit {
        count(failed: true)
        _ = fuse_reply_err(req, EIO)
        time()
    }

    private func count(failed: Bool) { if !rehearsed { stats.count(op, failed: failed) } }
    private func time() { if !rehearsed { stats.time(op, start: start) } }

    /// Sends a reply: the crash hook's "after" phase first, then the count
    /// (before the reply, so that a client that sees the reply also sees
    /// the count), then the reply itself; the service time ends once the
    /// reply is written (a spliced READ included).
    /// Returns whether the kernel took it (not when the request was
    /// requeued by FUSE_NOTIFY_RESEND meanwhile, or the connection ended).
    @inline(__always) @discardableResult
    private consuming func reply(failed: Bool = false, _ send: (fuse_req_t) -> Int32) -> Bool {
        stats.crashIfArmed(op, phase: .after)
        count(failed: failed)
        let sent = send(req)
        time()
        discard self
        return sent == 0
    }

    /// Replies an errno (0 for success without data). A resent UNLINK,
    /// RMDIR or RENAME that finds its work done succeeds.
    consuming func error(_ code: Int32) {
        var code = code
        if resent && code != 0 && isResendAnomaly(code) {
            if mayHaveTakenEffect && code == ENOENT {
                recognised()
                code = 0
            } else {
                fbshim_atomic_add(&stats.region.pointee.resent_anomalies, 1)
            }
        }
        reply(failed: code != 0) { fuse_reply_err($0, code) }
    }

    /// Counts a resent request recognised as already done.
    func recognised() { fbshim_atomic_add(&stats.region.pointee.resent_recognised, 1) }

    /// Replies from a thrown error.
    consuming func fail(_ e: SysError) { error(e.code) }

    /// A resent request that had already taken effect fails differently:
    /// an UNLINK that succeeded answers ENOENT the second time, a CREATE
    /// or MKDIR answers EEXIST.
    private func isResendAnomaly(_ code: Int32) -> Bool {
        switch op {
        case .unlink, .rmdir, .rename, .rename2: return code == ENOENT
        case .create, .mkdir, .mknod, .symlink, .link: return code == EEXIST
        default: return false
        }
    }

    /// No reply (forget).
    consuming func none() {
        count(failed: false)
        fuse_reply_none(req)
        time()
        discard self
    }

    /// A directory entry.
    consuming func entry(_ e: fuse_entry_param) {
        var e = e
        reply { q in withUnsafePointer(to: &e) { fuse_reply_entry(q, $0) } }
    }

    /// Created and opened. Returns whether the kernel took the reply: if
    /// not, nobody will release what was opened for it.
    @discardableResult
    consuming func create(_ e: fuse_entry_param, _ fi: UnsafePointer<fuse_file_info>) -> Bool {
        var e = e
        return reply { q in withUnsafePointer(to: &e) { fuse_reply_create(q, $0, fi) } }
    }

    /// Attributes.
    consuming func attr(_ st: stat, _ timeout: Double) {
        var st = st
        reply { q in withUnsafePointer(to: &st) { fuse_reply_attr(q, $0, timeout) } }
    }

    /// Opened. Returns whether the kernel took the reply (as `create`).
    @discardableResult
    consuming func open(_ fi: UnsafePointer<fuse_file_info>) -> Bool { reply { fuse_reply_open($0, fi) } }

    /// Bytes written.
    consuming func write(_ count: Int) { reply { fuse_reply_write($0, count) } }

    /// A data buffer.
    consuming func buf(_ p: UnsafeRawPointer?, _ size: Int) {
        reply { fuse_reply_buf($0, p?.assumingMemoryBound(to: CChar.self), size) }
    }

    /// File data straight from a descriptor (spliced when the session
    /// wants FUSE_CAP_SPLICE_WRITE and the data spans 2 pages or more).
    consuming func data(fd: Int32, size: Int, offset: off_t) {
        reply { fbshim_reply_fd_data($0, fd, size, offset) }
    }

    /// A symlink target.
    consuming func readlink(_ target: UnsafePointer<CChar>) { reply { fuse_reply_readlink($0, target) } }

    /// File-system statistics.
    consuming func statfs(_ s: statvfs) {
        var s = s
        reply { q in withUnsafePointer(to: &s) { fuse_reply_statfs(q, $0) } }
    }

    /// Size of an xattr value or list.
    consuming func xattr(_ size: Int) { reply { fuse_reply_xattr($0, size) } }

    /// A new offset.
    consuming func lseek(_ off: off_t) { reply { fuse_reply_lseek($0, off) } }
}
