// The intent log: before a non-idempotent request (create, mkdir, unlink,
// rename, ...) takes effect, its unique is written to a small table in a
// file mapped shared by every server instance of a connection. When the
// kernel resends that request to the next instance, a matching entry says
// the first attempt may already have taken effect, so "already exists" or
// "no such file" is the success the first attempt earned, not an error.
import CFuseShim
import Glibc

/// A table of uniques of non-idempotent requests started, by slot.
/// Unchecked Sendable: the mapped table is only read and written with the
/// shim's atomic loads and stores.
public final class IntentLog: @unchecked Sendable {
    static let slots = 4096
    private let table: UnsafeMutablePointer<UInt64>

    /// Maps (creating) the table at `path`.
    public init(path: String) throws(SysError) {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        if fd < 0 { throw SysError.current }
        defer { close(fd) }
        let size = Self.slots * 8
        if ftruncate(fd, off_t(size)) != 0 { throw SysError.current }
        let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
        if p == MAP_FAILED { throw SysError.current }
        table = p!.bindMemory(to: UInt64.self, capacity: Self.slots)
    }

    /// A table in this process's memory alone (a warm standby's record of
    /// the uniques it read itself).
    public init() {
        let p = mmap(nil, Self.slots * 8, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        precondition(p != MAP_FAILED, "cannot map \(Self.slots * 8) bytes for a unique table")
        table = p!.bindMemory(to: UInt64.self, capacity: Self.slots)
    }

    deinit { munmap(table, Self.slots * 8) }

    @inline(__always)
    private func slot(_ unique: UInt64) -> UnsafeMutablePointer<UInt64> {
        table + Int(truncatingIfNeeded: (unique >> 1) % UInt64(Self.slots))
    }

    /// Marks `unique` as started; returns whether it had been started
    /// before (by an earlier instance: the request is a resend).
    public func begin(_ unique: UInt64) -> Bool {
        let s = slot(unique)
        let before = fbshim_atomic_load(s)
        fbshim_atomic_store(s, unique)
        return before == unique
    }
}

extension Opcode {
    /// Requests whose second execution fails where the first succeeded.
    public var isNonIdempotent: Bool {
        switch self {
        case .create, .mkdir, .mknod, .symlink, .link, .unlink, .rmdir, .rename, .rename2: return true
        default: return false
        }
    }
}
