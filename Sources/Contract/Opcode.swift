// FUSE opcodes: the kernel's numbers (include/uapi/linux/fuse.h) and names,
// used as the index of the per-opcode statistics.

/// A FUSE request kind, numbered as on the wire.
public enum Opcode: Int, CaseIterable, Sendable, Codable {
    case lookup = 1, forget = 2, getattr = 3, setattr = 4, readlink = 5
    case symlink = 6, mknod = 8, mkdir = 9, unlink = 10, rmdir = 11
    case rename = 12, link = 13, open = 14, read = 15, write = 16
    case statfs = 17, release = 18, fsync = 20, setxattr = 21
    case getxattr = 22, listxattr = 23, removexattr = 24, flush = 25
    case initialize = 26, opendir = 27, readdir = 28, releasedir = 29
    case fsyncdir = 30, getlk = 31, setlk = 32, setlkw = 33, access = 34
    case create = 35, interrupt = 36, bmap = 37, destroy = 38, ioctl = 39
    case poll = 40, notifyReply = 41, batchForget = 42, fallocate = 43
    case readdirplus = 44, rename2 = 45, lseek = 46, copyFileRange = 47

    /// The kernel's name without the FUSE_ prefix, e.g. "LOOKUP".
    public var name: String {
        switch self {
        case .initialize: return "INIT"
        case .notifyReply: return "NOTIFY_REPLY"
        case .batchForget: return "BATCH_FORGET"
        case .copyFileRange: return "COPY_FILE_RANGE"
        default: return String(describing: self).uppercased()
        }
    }
}

extension Opcode {
    /// The opcode of a kernel name ("WRITE"), any case; nil when unknown.
    public init?(name: String) {
        guard let op = Opcode.allCases.first(where: { $0.name == name.uppercased() }) else { return nil }
        self = op
    }
}
