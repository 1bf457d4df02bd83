// The journal of entries a server handed out: (parent, name, node id),
// appended by every instance to one file the harness keeps, so that a later
// instance can invalidate them all (the eager revalidation storm).
import CFuseShim
import Glibc
import Synchronization

/// An append-only journal of handed-out entries.
public final class Journal: Sendable {
    /// One journaled entry.
    public struct Entry: Equatable, Sendable {
        /// The directory's node id.
        public var parent: UInt64
        /// The entry's node id.
        public var node: UInt64
        /// The name, without a NUL.
        public var name: [UInt8]
    }

    private let fd: Int32
    private let seen = Mutex(Set<UInt64>())

    /// Opens (creating) the journal at `path` for appending.
    public init(path: String) throws(SysError) {
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        if fd < 0 { throw SysError.current }
    }

    deinit { close(fd) }

    /// Appends an entry the first time this instance hands out `node`.
    public func record(parent: UInt64, node: UInt64, name: UnsafePointer<CChar>) {
        guard seen.withLock({ $0.insert(node).inserted }) else { return }
        let len = min(strlen(name), 255)
        var rec = [UInt8](repeating: 0, count: 18 + len)
        rec.withUnsafeMutableBytes { b in
            b.storeBytes(of: parent.littleEndian, toByteOffset: 0, as: UInt64.self)
            b.storeBytes(of: node.littleEndian, toByteOffset: 8, as: UInt64.self)
            b.storeBytes(of: UInt16(len).littleEndian, toByteOffset: 16, as: UInt16.self)
            b.baseAddress!.advanced(by: 18).copyMemory(from: name, byteCount: len)
        }
        _ = write(fd, rec, rec.count)
    }

    /// Every entry in the journal at `path`, in order.
    public static func read(path: String) -> [Entry] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var data: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = Glibc.read(fd, &chunk, chunk.count)
            if n <= 0 { break }
            data += chunk[0..<n]
        }
        var out: [Entry] = []
        var i = 0
        while i + 18 <= data.count {
            let len = Int(data[i + 16]) | Int(data[i + 17]) << 8
            guard i + 18 + len <= data.count else { break }
            func u64(_ o: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(data[o + $1]) << (8 * UInt64($1)) } }
            out.append(Entry(parent: u64(i), node: u64(i + 8), name: Array(data[(i + 18)..<(i + 18 + len)])))
            i += 18 + len
        }
        return out
    }
}
