// Kernel slab memory of the caches that hold what a FUSE mount caches.
import Foundation
import Glibc

enum Slab {
    /// The caches of cached inodes and names: the FUSE inode, the dentry,
    /// and the backing file systems' inodes (the server holds them open).
    static let caches = ["fuse_inode", "dentry", "ext4_inode_cache", "xfs_inode", "inode_cache"]

    /// Active objects times object size per cache, from /proc/slabinfo;
    /// nil when it cannot be read (it needs root).
    static func bytes() -> [String: Int64]? {
        // read(2) to the end: /proc files have no size for Foundation to go by.
        let fd = open("/proc/slabinfo", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(fd, &buf, buf.count)
            if n <= 0 { break }
            bytes += buf[0..<n]
        }
        let text = String(decoding: bytes, as: UTF8.self)
        var out: [String: Int64] = [:]
        for line in text.split(separator: "\n") {
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            guard f.count > 3, caches.contains(String(f[0])), let active = Int64(f[1]), let size = Int64(f[3]) else {
                continue
            }
            out[String(f[0])] = active * size
        }
        return out
    }
}
