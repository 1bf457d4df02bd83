// The handover-state keeper protocol: the messages a server and the
// harness's state keeper exchange on a SOCK_SEQPACKET socket. Each message
// is 9 bytes: an op byte and a file handle, little-endian; a hold carries
// the open descriptor with it (SCM_RIGHTS).

/// One keeper message.
public enum KeeperMessage: Equatable, Sendable {
    /// "K": keep a duplicate of the attached descriptor for file handle `fh`
    /// (server to keeper), or take it over (keeper to the next server).
    case hold(fh: UInt64)
    /// "D": the file handle was released; close the duplicate.
    case drop(fh: UInt64)
    /// "E": the end of the state handed to a new server.
    case end

    /// Bytes on the wire.
    public static let size = 9

    /// The message's bytes.
    public var bytes: [UInt8] {
        let (op, fh): (Character, UInt64)
        switch self {
        case .hold(let h): (op, fh) = ("K", h)
        case .drop(let h): (op, fh) = ("D", h)
        case .end: (op, fh) = ("E", 0)
        }
        return [op.asciiValue!] + (0..<8).map { UInt8(truncatingIfNeeded: fh >> (8 * $0)) }
    }

    /// Parses `n` received bytes; nil for anything that is not a message.
    public init?(_ b: [UInt8], count n: Int) {
        guard n == Self.size, b.count >= n else { return nil }
        let fh = (1...8).reduce(UInt64(0)) { $0 | UInt64(b[$1]) << (8 * ($1 - 1)) }
        switch b[0] {
        case UInt8(ascii: "K"): self = .hold(fh: fh)
        case UInt8(ascii: "D"): self = .drop(fh: fh)
        case UInt8(ascii: "E"): self = .end
        default: return nil
        }
    }
}
