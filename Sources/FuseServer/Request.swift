// One FUSE request in flight: its libfuse handle, its opcode and when it
// arrived. Every reply goes through here so that each is timed and counted
// exactly once.
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

    init(_ req: fuse_req_t, _ op: Opcode, _ stats: StatsRegion) {
        self.req = req
        self.op = op
        self.stats = stats
        resent = fbshim_thread_resent() != 0
        start = fbshim_monotonic_ns()
        stats.crashIfArmed(op, phase: .before)
    }

    @inline(__always)
    private func done(_ rc: Int32, failed: Bool) {
        stats.record(op, start: start, failed: failed || rc < 0)
    }

    /// Replies an errno (0 for success without data).
    func error(_ code: Int32) {
        stats.crashIfArmed(op, phase: .after)
        if resent && code != 0 && isResendAnomaly(code) {
            fbshim_atomic_add(&stats.region.pointee.resent_anomalies, 1)
        }
        done(fuse_reply_err(req, code), failed: code != 0)
    }

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
    /// Replies from a thrown error.
    func fail(_ e: SysError) { error(e.code) }
    /// No reply (forget).
    func none() {
        fuse_reply_none(req)
        stats.record(op, start: start, failed: false)
    }
    /// A directory entry.
    func entry(_ e: inout fuse_entry_param) { stats.crashIfArmed(op, phase: .after); done(fuse_reply_entry(req, &e), failed: false) }
    /// Created and opened.
    func create(_ e: inout fuse_entry_param, _ fi: UnsafePointer<fuse_file_info>) { stats.crashIfArmed(op, phase: .after);
        done(fuse_reply_create(req, &e, fi), failed: false)
    }
    /// Attributes.
    func attr(_ st: inout stat, _ timeout: Double) { stats.crashIfArmed(op, phase: .after); done(fuse_reply_attr(req, &st, timeout), failed: false) }
    /// Opened.
    func open(_ fi: UnsafePointer<fuse_file_info>) { stats.crashIfArmed(op, phase: .after); done(fuse_reply_open(req, fi), failed: false) }
    /// Bytes written.
    func write(_ count: Int) { stats.crashIfArmed(op, phase: .after); done(fuse_reply_write(req, count), failed: false) }
    /// A data buffer.
    func buf(_ p: UnsafeRawPointer?, _ size: Int) { stats.crashIfArmed(op, phase: .after);
        done(fuse_reply_buf(req, p?.assumingMemoryBound(to: CChar.self), size), failed: false)
    }
    /// File data straight from a descriptor (spliced when enabled).
    func data(fd: Int32, size: Int, offset: off_t, splice: Bool) { stats.crashIfArmed(op, phase: .after);
        let rc = fbshim_reply_fd_data(req, fd, size, offset, splice ? 1 : 0)
        done(rc, failed: rc < 0)
    }
    /// A symlink target.
    func readlink(_ target: UnsafePointer<CChar>) { stats.crashIfArmed(op, phase: .after); done(fuse_reply_readlink(req, target), failed: false) }
    /// File-system statistics.
    func statfs(_ s: inout statvfs) { stats.crashIfArmed(op, phase: .after); done(fuse_reply_statfs(req, &s), failed: false) }
    /// Size of an xattr value or list.
    func xattr(_ size: Int) { stats.crashIfArmed(op, phase: .after); done(fuse_reply_xattr(req, size), failed: false) }
    /// A new offset.
    func lseek(_ off: off_t) { stats.crashIfArmed(op, phase: .after); done(fuse_reply_lseek(req, off), failed: false) }
}
