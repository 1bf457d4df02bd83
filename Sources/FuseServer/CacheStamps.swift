// Whether the kernel may keep what it cached of a file or a directory
// (FOPEN_KEEP_CACHE) when it is opened again: only if the backing object is
// as this server instance last saw it. A change made behind the server's
// back (by another program on the backing directory, or while no server
// ran) drops the kernel's pages and cached listing; a server that starts
// knows nothing yet, so its first open of each object drops them too, and
// no restart can hide such a change. Changes made through the mount keep
// the cache: the stamp is taken again when the file or directory is closed.
import Glibc
import Synchronization

/// What the server last saw of each node's backing object.
final class CacheStamps: Sendable {
    struct Stamp: Equatable {
        let mtimeSec: Int, mtimeNsec: Int, size: Int64
    }

    private let seen = Mutex<[UInt64: Stamp]>([:])

    private static func stamp(_ fd: Int32) -> Stamp? {
        var st = stat()
        guard fstat(fd, &st) == 0 else { return nil }
        return Stamp(mtimeSec: st.st_mtim.tv_sec, mtimeNsec: st.st_mtim.tv_nsec, size: Int64(st.st_size))
    }

    /// Whether node `ino`, open as `fd`, is unchanged since last seen; it is
    /// recorded as seen now either way.
    func unchanged(_ ino: UInt64, _ fd: Int32) -> Bool {
        guard let now = Self.stamp(fd) else { return false }
        return seen.withLock { map in
            defer { map[ino] = now }
            return map[ino] == now
        }
    }

    /// Records node `ino` as it is now (a close: what changed through the
    /// mount is what the kernel cached).
    func note(_ ino: UInt64, _ fd: Int32) {
        guard let now = Self.stamp(fd) else { return }
        seen.withLock { $0[ino] = now }
    }
}
