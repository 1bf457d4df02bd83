// A warm standby's rehearsal: a few requests it serves to itself, after the
// saved INIT and before it says it is ready, with replies nobody sees.
//
// A new process's first requests are slow, whatever it serves: the Swift
// runtime builds the metadata of each generic type at its first use (the
// node table's and open-file table's dictionaries: a conformance lookup
// that scans every image), code and data pages fault in, libfuse starts
// its workers. perf showed that taking a third of a new server's first
// 1.5 ms after a handover, its first replies 0.1 to 0.5 ms late. The
// rehearsal runs those paths while the server it stands by for still
// serves. It reads only: GETATTR and STATFS of the root, OPENDIR, READDIR
// and RELEASEDIR of it, and LOOKUP, GETATTR and GETXATTR of one entry,
// which a FORGET then drops again (the kernel never counted it). With
// counter node ids (ephemeral) the root alone: a lookup there moves the
// counter on for good, and the ids the server gives would differ.
import Contract
import Glibc

struct Rehearsal {
    /// Uniques of the rehearsal's requests: this base plus the step.
    static let uniqueBase: UInt64 = 0x4000_0000_0000_F100
    static func isRehearsal(_ unique: UInt64) -> Bool { unique & ~0xff == uniqueBase }

    /// A name in the backing root to look up (nil: the root is empty, or
    /// node ids are counters).
    let name: String?
    private var step = 0
    /// A request was handed out and its reply has not come yet (at first:
    /// the replayed INIT's, as libfuse fails any request before INIT).
    private var awaiting = true
    private var dirHandle: UInt64 = 0
    private var node: UInt64 = 0
    /// Whether the rehearsal is over (its last request handed out).
    private(set) var finished = false

    init(name: String?) { self.name = name }

    /// The first entry of directory `path` other than . and .., if any.
    static func someName(in path: String) -> String? {
        guard let d = opendir(path) else { return nil }
        defer { closedir(d) }
        while let e = Glibc.readdir(d) {
            let n = withUnsafeBytes(of: e.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if n != "." && n != ".." { return n }
        }
        return nil
    }

    /// The next request, or nil while a reply is awaited or once it is over.
    mutating func next() -> (bytes: [UInt8], opcode: UInt32, unique: UInt64)? {
        while !finished && !awaiting {
            defer { step += 1 }
            let unique = Self.uniqueBase + UInt64(step)
            var body: [UInt8] = []
            let opcode: Opcode, nodeid: UInt64
            switch step {
            case 0: (opcode, nodeid) = (.getattr, 1); body = Self.le(0, 4) + Self.le(0, 4) + Self.le(0, 8)
            case 1: (opcode, nodeid) = (.statfs, 1)
            case 2: (opcode, nodeid) = (.opendir, 1); body = Self.le(UInt64(O_RDONLY), 4) + Self.le(0, 4)
            case 3:
                guard dirHandle != 0 else { continue }
                (opcode, nodeid) = (.readdir, 1)
                body = Self.le(dirHandle, 8) + Self.le(0, 8) + Self.le(4096, 4) + Self.le(0, 4) + Self.le(0, 8)
                    + Self.le(UInt64(O_RDONLY), 4) + Self.le(0, 4)
            case 4:
                guard dirHandle != 0 else { continue }
                (opcode, nodeid) = (.releasedir, 1)
                body = Self.le(dirHandle, 8) + Self.le(UInt64(O_RDONLY), 4) + Self.le(0, 4) + Self.le(0, 8)
            case 5:
                guard let name else { finished = true; return nil }
                (opcode, nodeid) = (.lookup, 1); body = Array(name.utf8) + [0]
            case 6:
                guard node != 0 else { finished = true; return nil }
                (opcode, nodeid) = (.getattr, node); body = Self.le(0, 4) + Self.le(0, 4) + Self.le(0, 8)
            case 7:
                (opcode, nodeid) = (.getxattr, node)
                body = Self.le(0, 4) + Self.le(0, 4) + Array("security.capability".utf8) + [0]
            case 8:
                // No reply comes to a FORGET: the rehearsal ends as it is handed out.
                (opcode, nodeid) = (.forget, node); body = Self.le(1, 8)
                finished = true
            default:
                finished = true
                return nil
            }
            awaiting = opcode != .forget
            let header = Self.le(UInt64(40 + body.count), 4) + Self.le(UInt64(opcode.rawValue), 4) + Self.le(unique, 8)
                + Self.le(nodeid, 8) + Self.le(0, 4) + Self.le(0, 4) + Self.le(UInt64(getpid()), 4) + Self.le(0, 4)
            return (header + body, UInt32(opcode.rawValue), unique)
        }
        return nil
    }

    /// The replayed INIT was answered: the rehearsal may begin.
    mutating func initAnswered() { awaiting = false }

    /// Takes the reply to rehearsal request `unique` (its bytes, header first).
    mutating func answered(_ unique: UInt64, reply: [UInt8]) {
        awaiting = false
        guard reply.count >= 24, reply.withUnsafeBytes({ $0.loadUnaligned(fromByteOffset: 4, as: Int32.self) }) == 0
        else { return }
        let first = reply.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 16, as: UInt64.self) }
        switch unique - Self.uniqueBase {
        case 2: dirHandle = first
        case 5: node = first
        default: break
        }
    }

    private static func le(_ v: UInt64, _ bytes: Int) -> [UInt8] { (0..<bytes).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
}
