// File handles: `instance << 32 | slot`. For files the slot is
// `mode << 24 | descriptor`, where `mode` is the backing file's open flags
// that matter to later I/O (access mode, O_APPEND, O_DIRECT, O_SYNC,
// O_DSYNC, O_NOATIME), packed in 7 bits, and `descriptor` is the backing
// descriptor, or, with `deferredTag` set, a number of a passthrough open
// that has none yet (its I/O is the kernel's; FSYNC and the like open one
// on first use, as for an earlier instance's handle); for directories it is
// `dirTag | index` into a table of open streams, so that file and directory
// handles never share a number. A handle with another instance's tag came
// from an earlier server: it is reopened on first use (by node id, with the
// flags in its handle: FLUSH, FSYNC and LSEEK carry none, and a read-write
// file must not come back read-only) or refused; files and directories
// keep their reopened handles apart.
import Contract
import CFuseShim
import Glibc
import Synchronization

/// Open files and directories of one server instance.
final class OpenFiles: Sendable {
    let instance: UInt64
    let policy: StaleHandlePolicy
    /// Socket to the keeper (handover-state): a duplicate of every open
    /// file's descriptor lives there, so that it outlives this process.
    let keeper: StateKeeperLink?
    /// Earlier instances' file handles, reopened, and this instance's
    /// deferred ones, opened: handle -> descriptor.
    private let reopened = Mutex<[UInt64: Int32]>([:])
    /// Earlier instances' directory handles, reopened: old handle -> index.
    private let reopenedDirs = Mutex<[UInt64: Int]>([:])
    private let dirs = Mutex<(slots: [DirHandle?], free: [Int])>(([], []))
    /// Set in the low half of every directory handle (descriptors stay below it).
    static let dirTag: UInt64 = 0x8000_0000

    init(instance: UInt32, policy: StaleHandlePolicy, keeper: StateKeeperLink? = nil) {
        self.instance = UInt64(instance)
        self.policy = policy
        self.keeper = keeper
    }

    /// Takes over the descriptors the keeper held for earlier instances:
    /// their handles resolve to them directly, with no reopen.
    func adopt(_ held: [UInt64: Int32]) {
        reopened.withLock { map in
            for (fh, fd) in held { map[fh] = fd }
        }
    }

    /// The handle for a new backing descriptor opened with `flags` (given
    /// to the keeper first, when there is one: before the kernel can know
    /// the handle).
    func fileHandle(_ fd: Int32, flags: Int32) -> UInt64 {
        let fh = instance << 32 | FileMode.pack(flags) << 24 | UInt64(UInt32(bitPattern: fd))
        keeper?.hold(fh, fd)
        return fh
    }

    /// Set in the descriptor field of a deferred handle (descriptors stay
    /// below it: the kernel's nr_open is at most 2^20 unless raised).
    static let deferredTag: UInt64 = 0x80_0000
    /// Numbers deferred handles apart (23 bits, wrapping: only handles
    /// open at once must differ).
    private let deferredCount = Atomic<UInt64>(0)

    /// A handle with no descriptor yet, for a passthrough open with
    /// `flags`: whatever needs one (FSYNC, FALLOCATE, LSEEK) opens it on
    /// first use, by node id with these flags.
    func deferredHandle(flags: Int32) -> UInt64 {
        let n = deferredCount.add(1, ordering: .relaxed).newValue & (Self.deferredTag - 1)
        return instance << 32 | FileMode.pack(flags) << 24 | Self.deferredTag | n
    }

    /// The descriptor in one of this instance's file handles (nil for a
    /// deferred one).
    @inline(__always)
    static func ownDescriptor(_ fh: UInt64) -> Int32? {
        fh & deferredTag != 0 ? nil : Int32(truncatingIfNeeded: fh & 0xff_ffff)
    }

    /// The backing open flags a file handle was made with (of any instance).
    static func openFlags(_ fh: UInt64) -> Int32 { FileMode.unpack(fh >> 24 & 0x7f) }

    /// Whether `fh` was handed out by this instance.
    @inline(__always)
    func isOwn(_ fh: UInt64) -> Bool { fh >> 32 == instance }

    /// The backing descriptor of `fh`; a deferred handle is opened, and a
    /// stale handle reopened or refused, with `open` (called once per
    /// handle, with the flags the handle was made with).
    func descriptor(_ fh: UInt64, stats: StatsRegion, open: (Int32) throws(SysError) -> Int32) throws(SysError) -> Int32 {
        let own = isOwn(fh)
        if own, let fd = Self.ownDescriptor(fh) { return fd }
        guard own || policy == .reopen else {
            fbshim_atomic_add(&stats.region.pointee.stale_handles, 1)
            throw SysError(EBADF)
        }
        if let fd = reopened.withLock({ $0[fh] }) { return fd }
        let fd = try open(Self.openFlags(fh))
        var spare: Int32 = -1
        let result = reopened.withLock { map -> Int32 in
            if let existing = map[fh] {
                spare = fd
                return existing
            }
            map[fh] = fd
            return fd
        }
        if spare >= 0 { close(spare) } else if !own { fbshim_atomic_add(&stats.region.pointee.reopened, 1) }
        return result
    }

    /// Closes the descriptor behind `fh` (RELEASE).
    func release(_ fh: UInt64) {
        keeper?.drop(fh)
        if isOwn(fh), let fd = Self.ownDescriptor(fh) {
            close(fd)
        } else if let fd = reopened.withLock({ $0.removeValue(forKey: fh) }) {
            close(fd)
        }
    }

    // MARK: - Directories

    /// Stores an open directory; returns its handle.
    func addDir(_ d: DirHandle) -> UInt64 {
        let slot = dirs.withLock { t -> Int in
            if let s = t.free.popLast() {
                t.slots[s] = d
                return s
            }
            t.slots.append(d)
            return t.slots.count - 1
        }
        return instance << 32 | Self.dirTag | UInt64(slot)
    }

    /// The table index of this instance's directory handle `fh`.
    private func dirIndex(_ fh: UInt64) -> Int? {
        fh & Self.dirTag != 0 ? Int(fh & 0x7fff_ffff) : nil
    }

    /// The directory behind one of this instance's handles, or nil.
    func ownDir(_ fh: UInt64) -> DirHandle? {
        guard isOwn(fh), let slot = dirIndex(fh) else { return nil }
        return dirs.withLock { slot < $0.slots.count ? $0.slots[slot] : nil }
    }

    /// The directory behind `fh`; a stale handle is reopened with `open`.
    func dir(_ fh: UInt64, stats: StatsRegion, open: () throws(SysError) -> DirHandle) throws(SysError) -> DirHandle {
        if isOwn(fh) {
            guard let d = ownDir(fh) else { throw SysError(EBADF) }
            return d
        }
        guard policy == .reopen else {
            fbshim_atomic_add(&stats.region.pointee.stale_handles, 1)
            throw SysError(EBADF)
        }
        // A stale directory handle gets a stream of its own under a new slot,
        // remembered by the old handle.
        if let slot = reopenedDirs.withLock({ $0[fh] }), let d = dirs.withLock({ $0.slots[slot] }) { return d }
        let d = try open()
        let slot = dirIndex(addDir(d))!
        reopenedDirs.withLock { $0[fh] = slot }
        fbshim_atomic_add(&stats.region.pointee.reopened, 1)
        return d
    }

    /// Forgets the directory behind `fh` (RELEASEDIR).
    func releaseDir(_ fh: UInt64) {
        var slot: Int?
        if isOwn(fh) {
            slot = dirIndex(fh)
        } else {
            slot = reopenedDirs.withLock { $0.removeValue(forKey: fh) }
        }
        guard let slot else { return }
        dirs.withLock { t in
            guard slot < t.slots.count, t.slots[slot] != nil else { return }
            t.slots[slot] = nil
            t.free.append(slot)
        }
    }
}

/// The open flags a file handle keeps (7 bits), so that a handle reopened
/// by a later server instance has the mode it was opened with.
enum FileMode {
    /// Flag, bit in the packed mode (bits 0-1 are the access mode).
    static let bits: [(flag: Int32, bit: UInt64)] = [
        (O_APPEND, 1 << 2), (fbshim_O_DIRECT, 1 << 3), (O_DSYNC, 1 << 4), (O_SYNC & ~O_DSYNC, 1 << 5), (fbshim_O_NOATIME, 1 << 6),
    ]

    static func pack(_ flags: Int32) -> UInt64 {
        var m = UInt64(UInt32(bitPattern: flags & O_ACCMODE)) & 3
        for (flag, bit) in bits where flags & flag == flag { m |= bit }
        return m
    }

    static func unpack(_ m: UInt64) -> Int32 {
        var flags = Int32(m & 3)
        for (flag, bit) in bits where m & bit != 0 { flags |= flag }
        return flags
    }
}

/// The server's end of the handover-state keeper socket (the messages:
/// KeeperMessage, in Contract).
public final class StateKeeperLink: Sendable {
    let sock: Int32

    /// Wraps the socket the harness gave us.
    public init(sock: Int32) { self.sock = sock }

    /// Hands a duplicate of `fd` to the keeper.
    func hold(_ fh: UInt64, _ fd: Int32) {
        var fds = [fd]
        let m = KeeperMessage.hold(fh: fh).bytes
        _ = m.withUnsafeBytes { fbshim_send_with_fds(sock, $0.baseAddress, m.count, &fds, 1) }
    }

    /// Tells the keeper to close its duplicate.
    func drop(_ fh: UInt64) {
        let m = KeeperMessage.drop(fh: fh).bytes
        _ = m.withUnsafeBytes { fbshim_send_with_fds(sock, $0.baseAddress, m.count, nil, 0) }
    }

    /// Receives the state the keeper holds for earlier instances, up to
    /// its "E" message.
    func receiveState() -> [UInt64: Int32] {
        var held: [UInt64: Int32] = [:]
        var buf = [UInt8](repeating: 0, count: 16)
        var fds: [Int32] = [-1]
        while true {
            var n: Int32 = 0
            let len = fbshim_recv_with_fds(sock, &buf, buf.count, &fds, 1, &n)
            guard len > 0, let m = KeeperMessage(buf, count: len) else { break }
            if m == .end { break }
            if case .hold(let fh) = m, n == 1 {
                if let old = held.updateValue(fds[0], forKey: fh) { close(old) }
            }
        }
        return held
    }
}
