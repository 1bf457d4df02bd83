// One FUSE request in flight: its libfuse handle, its opcode and when it
// arrived. Every reply goes through here, so that each is counted and
// timed exactly once, the crash hook can fire before or after the work,
// and resent requests that had already taken effect are recognised.
import Contract
import CFuseShim
import Glibc

/// A request being served.
struct Request {
    let req: fuse_req_t
    let op: Opcode
    let start: UInt64
    let stats: StatsRegion
    /// Re-delivered by FUSE_NOTIFY_RESEND after a restart.
    let resent: Bool
    /// A resent non-idempotent request whose first attempt had started: it
    /// may already have taken effect.
    let mayHaveTakenEffect: Bool

    init(_ req: fuse_req_t, _ op: Opcode, _ stats: StatsRegion, intents: IntentLog?) {
        self.req = req
        self.op = op
        self.stats = stats
        resent = fbshim_thread_resent() != 0
        if op.isNonIdempotent, let intents {
            let started = intents.begin(fbshim_thread_unique())
            mayHaveTakenEffect = resent && started
        } else {
            mayHaveTakenEffect = false
        }
        start = fbshim_monotonic_ns()
        stats.crashIfArmed(op, phase: .before)
    }

    /// Sends a reply: the crash hook's "after" phase first, then the count
    /// (before the reply, so that a client that sees the reply also sees
    /// the count), then the reply itself; the service time ends once the
    /// reply is written (a spliced READ included).
    @inline(__always)
    private func reply(failed: Bool = false, _ send: () -> Int32) {
        stats.crashIfArmed(op, phase: .after)
        stats.count(op, failed: failed)
        _ = send()
        stats.time(op, start: start)
    }

    /// Replies an errno (0 for success without data). A resent UNLINK,
    /// RMDIR or RENAME that finds its work done succeeds.
    func error(_ code: Int32) {
        var code = code
        if resent && code != 0 && isResendAnomaly(code) {
            if mayHaveTakenEffect && code == ENOENT {
                recognised()
                code = 0
            } else {
                fbshim_atomic_add(&stats.region.pointee.resent_anomalies, 1)
            }
        }
        reply(failed: code != 0) { fuse_reply_err(req, code) }
    }

    /// Counts a resent request recognised as already done.
    func recognised() { fbshim_atomic_add(&stats.region.pointee.resent_recognised, 1) }

    /// Replies from a thrown error.
    func fail(_ e: SysError) { error(e.code) }

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
    func none() {
        stats.count(op, failed: false)
        fuse_reply_none(req)
        stats.time(op, start: start)
    }

    /// A directory entry.
    func entry(_ e: inout fuse_entry_param) {
        withUnsafePointer(to: &e) { p in reply { fuse_reply_entry(req, p) } }
    }

    /// Created and opened.
    func create(_ e: inout fuse_entry_param, _ fi: UnsafePointer<fuse_file_info>) {
        withUnsafePointer(to: &e) { p in reply { fuse_reply_create(req, p, fi) } }
    }

    /// Attributes.
    func attr(_ st: inout stat, _ timeout: Double) {
        withUnsafePointer(to: &st) { p in reply { fuse_reply_attr(req, p, timeout) } }
    }

    /// Opened.
    func open(_ fi: UnsafePointer<fuse_file_info>) { reply { fuse_reply_open(req, fi) } }

    /// Bytes written.
    func write(_ count: Int) { reply { fuse_reply_write(req, count) } }

    /// A data buffer.
    func buf(_ p: UnsafeRawPointer?, _ size: Int) {
        reply { fuse_reply_buf(req, p?.assumingMemoryBound(to: CChar.self), size) }
    }

    /// File data straight from a descriptor (spliced when the session
    /// wants FUSE_CAP_SPLICE_WRITE and the data spans 2 pages or more).
    func data(fd: Int32, size: Int, offset: off_t) {
        reply { fbshim_reply_fd_data(req, fd, size, offset) }
    }

    /// A symlink target.
    func readlink(_ target: UnsafePointer<CChar>) { reply { fuse_reply_readlink(req, target) } }

    /// File-system statistics.
    func statfs(_ s: inout statvfs) {
        withUnsafePointer(to: &s) { p in reply { fuse_reply_statfs(req, p) } }
    }

    /// Size of an xattr value or list.
    func xattr(_ size: Int) { reply { fuse_reply_xattr(req, size) } }

    /// A new offset.
    func lseek(_ off: off_t) { reply { fuse_reply_lseek(req, off) } }
}
