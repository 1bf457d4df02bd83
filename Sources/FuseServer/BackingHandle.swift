// A backing file's kernel file handle (name_to_handle_at), and the node id
// the handle scheme derives from it.
import Contract
import CFuseShim
import Glibc

/// An opaque file handle of the backing file system.
public struct BackingHandle: Hashable, Sendable {
    /// handle_type from name_to_handle_at.
    public var type: Int32
    /// The handle bytes.
    public var bytes: [UInt8]

    /// Reads the handle of `path` relative to `dirfd` (fbshim_AT_EMPTY_PATH with "").
    public static func of(_ dirfd: Int32, _ path: String, flags: Int32) throws(SysError) -> BackingHandle {
        var buf = [UInt8](repeating: 0, count: Int(FBSHIM_MAX_HANDLE))
        var type: Int32 = 0
        var mountId: Int32 = 0
        let n = fbshim_name_to_handle(dirfd, path, flags, &buf, &type, &mountId)
        if n < 0 { throw SysError.current }
        return BackingHandle(type: type, bytes: Array(buf[0..<Int(n)]))
    }

    /// The handle scheme's node id: `inode << 32 | generation` for 8-byte
    /// (inode, generation) handles such as ext4's FILEID_INO32_GEN; nil for
    /// handles of another shape.
    public var packedNodeId: UInt64? {
        guard bytes.count == 8 else { return nil }
        let ino = UInt64(bytes[0]) | UInt64(bytes[1]) << 8 | UInt64(bytes[2]) << 16 | UInt64(bytes[3]) << 24
        let gen = UInt64(bytes[4]) | UInt64(bytes[5]) << 8 | UInt64(bytes[6]) << 16 | UInt64(bytes[7]) << 24
        guard ino != 0 else { return nil }
        return ino << 32 | gen
    }

    /// Rebuilds an 8-byte handle of type `type` from a packed node id.
    public static func unpack(_ nodeId: UInt64, type: Int32) -> BackingHandle {
        let ino = UInt32(truncatingIfNeeded: nodeId >> 32)
        let gen = UInt32(truncatingIfNeeded: nodeId)
        var b = [UInt8](repeating: 0, count: 8)
        for i in 0..<4 {
            b[i] = UInt8(truncatingIfNeeded: ino >> (8 * UInt32(i)))
            b[4 + i] = UInt8(truncatingIfNeeded: gen >> (8 * UInt32(i)))
        }
        return BackingHandle(type: type, bytes: b)
    }

    /// open_by_handle_at on the backing file system.
    public func open(mountFd: Int32, flags: Int32) throws(SysError) -> Int32 {
        let fd = bytes.withUnsafeBufferPointer {
            fbshim_open_by_handle(mountFd, type, $0.baseAddress, Int32($0.count), flags)
        }
        if fd < 0 { throw SysError.current }
        return fd
    }
}
