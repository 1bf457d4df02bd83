// FUSE passthrough: the backing files registered on the connection, by
// node id, in a table every server instance of the connection shares
// (passthrough.c says why). One open of a node registers its backing
// descriptor (FUSE_DEV_IOC_BACKING_OPEN); later opens of the node, by this
// instance or a later one, reuse that id while any of them is open. With
// node ids that name one file for good (handles), the last release leaves
// the id registered, idle, until the kernel forgets the node: the next open
// is answered with it at once, without opening the backing file, without
// the ioctls and without the capability changes around them. Otherwise
// (counter or inode-number ids, which may come to name another file) the
// last release closes it.
import Contract
import CFuseShim
import Glibc
import Synchronization

/// The connection's backing files.
/// Unchecked Sendable: the table is shared memory behind its own robust
/// process-shared mutex; `fuseFd` is set once, before the first request.
final class BackingFiles: @unchecked Sendable {
    /// Node ids with a backing file at once (a power of two; 1.1 MiB).
    static let capacity: UInt32 = 65536
    private let table: OpaquePointer
    private let stats: StatsRegion
    /// The connection's /dev/fuse descriptor (for the ioctls).
    private let fuseFd = Atomic<Int32>(-1)
    /// The first refusal is logged with its errno; the rest are counted.
    private let loggedRefusal = Atomic<Bool>(false)

    /// Idle ids kept at most (0: none; the last release closes an id).
    let keepIdle: UInt32
    /// This server instance (an earlier one's id is not reused before
    /// this one has opened the node: the node may be gone).
    private let instance: UInt32

    /// Maps the connection's table at `path` (nil: this process only),
    /// emptied when `fresh` (a new connection, not a resumed one). At most
    /// `keepIdle` ids stay registered after their last release (0: none),
    /// never over half the table, so that opens of nodes not yet
    /// registered always find room.
    init(path: String?, fresh: Bool, instance: UInt32, keepIdle: Int, stats: StatsRegion) throws(SysError) {
        guard let t = fbshim_backing_table_map(path, Self.capacity, fresh ? 1 : 0) else { throw SysError.current }
        table = t
        self.stats = stats
        self.instance = instance
        self.keepIdle = UInt32(min(max(keepIdle, 0), Int(Self.capacity / 2)))
    }

    func setFuseFd(_ fd: Int32) { fuseFd.store(fd, ordering: .releasing) }

    /// A passthrough open of node `ino` on backing descriptor `fd`: its
    /// backing id, or nil (the open is answered without passthrough).
    ///
    /// Registered with the server's credentials but without CAP_FSETID: the
    /// kernel opens the backing file for every later open of the node, and
    /// writes to it, with the credentials of the registration, whoever the
    /// caller. With CAP_FSETID, a write by an unprivileged user would keep a
    /// file's set-user-ID bit (ConformanceTests); without it, every write
    /// through passthrough clears it, root's too (README: known differences).
    func acquire(_ ino: UInt64, _ fd: Int32) -> Int32? {
        fbshim_server_section_begin()
        defer { fbshim_server_section_end() }
        _ = fbshim_thread_fsetid(0)
        defer { _ = fbshim_thread_fsetid(1) }
        var fresh: Int32 = 0
        let id = fbshim_backing_acquire(table, fuseFd.load(ordering: .acquiring), ino, fd, instance, &fresh)
        guard id > 0 else {
            fbshim_atomic_add(&stats.region.pointee.passthrough_refused, 1)
            if !loggedRefusal.exchange(true, ordering: .relaxed) {
                let line = "fusebench serve: passthrough refused for node \(ino) (\(errnoText(-id))); "
                    + "the open goes on without it (further refusals are only counted)\n"
                _ = line.withCString { Glibc.write(2, $0, strlen($0)) }
            }
            return nil
        }
        if fresh != 0 {
            fbshim_atomic_add(&stats.region.pointee.backing_registered, 1)
            fbshim_atomic_add(&stats.region.pointee.passthrough_opens, 1)
        } else {
            countReuse()
        }
        return id
    }

    /// A passthrough open on an id registered before.
    private func countReuse() {
        fbshim_atomic_add(&stats.region.pointee.passthrough_opens, 1)
        fbshim_atomic_add(&stats.region.pointee.passthrough_reused, 1)
        publishIdle()
    }

    /// Another passthrough open of node `ino`, answered with the backing
    /// id registered for it (open or idle) by an open of this instance, or
    /// nil when there is none.
    func reuse(_ ino: UInt64) -> Int32? {
        let id = fbshim_backing_reuse(table, ino, instance)
        guard id > 0 else { return nil }
        countReuse()
        return id
    }

    /// The release of an open of node `ino` (a passthrough one or not: a
    /// node without a backing file is left alone).
    func release(_ ino: UInt64) {
        _ = fbshim_backing_release(table, fuseFd.load(ordering: .acquiring), ino, keepIdle)
        publishIdle()
    }

    /// The kernel forgot node `ino`: an idle backing id of it is closed.
    func forget(_ ino: UInt64) {
        guard keepIdle > 0 else { return }
        if fbshim_backing_forget(table, fuseFd.load(ordering: .acquiring), ino) > 0 { publishIdle() }
    }

    /// The gauge of backing ids registered with no open now.
    private func publishIdle() {
        guard keepIdle > 0 else { return }
        fbshim_atomic_store(&stats.region.pointee.backing_idle, fbshim_backing_idle(table))
    }
}
