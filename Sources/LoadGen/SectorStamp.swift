// Self-describing file content: every 512-byte sector starts with a header
// {magic, file index, stamp} and the rest is a pattern derived from the
// three and the offset. A reader can tell from any sector which file and
// which write it belongs to, and whether its bytes are intact.

/// The sector format of fileset files and of everything the load writes:
/// a 24-byte header {magic, file index, stamp, offset} and a body that
/// depends on the file and the stamp (computed once per write and copied,
/// so stamping costs little more than the copy).
public enum SectorStamp {
    /// Sector size.
    public static let size = 512
    static let magic: UInt32 = 0x5257_4246 // "FBWR"
    static let headerWords = 3
    static let words = size / 8

    @inline(__always)
    static func word(file: UInt32, stamp: UInt64, word: Int) -> UInt64 {
        var x = UInt64(file) &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(word) &* 0xBF58_476D_1CE4_E5B9 ^ stamp
        x ^= x >> 29
        return x &* 0x94D0_49BB_1331_11EB
    }

    /// Fills `count` bytes (a multiple of 512) at `p` with the sectors of
    /// `file` at file offset `offset` (512-aligned) written by `stamp`.
    public static func fill(_ p: UnsafeMutableRawPointer, count: Int, file: UInt32, offset: Int, stamp: UInt64) {
        guard count >= size else { return }
        // The first sector's body, then copies of it.
        for w in headerWords..<words {
            p.storeBytes(of: word(file: file, stamp: stamp, word: w), toByteOffset: w * 8, as: UInt64.self)
        }
        var s = 0
        while s + size <= count {
            let base = p + s
            if s > 0 { (base + headerWords * 8).copyMemory(from: p + headerWords * 8, byteCount: size - headerWords * 8) }
            base.storeBytes(of: magic, toByteOffset: 0, as: UInt32.self)
            base.storeBytes(of: file, toByteOffset: 4, as: UInt32.self)
            base.storeBytes(of: stamp, toByteOffset: 8, as: UInt64.self)
            base.storeBytes(of: UInt64(offset + s), toByteOffset: 16, as: UInt64.self)
            s += size
        }
    }

    /// What a sector says about itself.
    public struct Reading: Equatable {
        /// The header is there.
        public var valid: Bool
        /// File index in the header.
        public var file: UInt32
        /// Stamp in the header.
        public var stamp: UInt64
        /// The body matches the header, and the header's offset is `offset`.
        public var intact: Bool

        /// A reading.
        public init(valid: Bool, file: UInt32, stamp: UInt64, intact: Bool) {
            self.valid = valid
            self.file = file
            self.stamp = stamp
            self.intact = intact
        }
    }

    /// Reads the sector at `p`, expected at file offset `offset`.
    public static func read(_ p: UnsafeRawPointer, offset: Int) -> Reading {
        let m = p.loadUnaligned(fromByteOffset: 0, as: UInt32.self)
        let file = p.loadUnaligned(fromByteOffset: 4, as: UInt32.self)
        let stamp = p.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
        guard m == magic else { return Reading(valid: false, file: 0, stamp: 0, intact: false) }
        var intact = p.loadUnaligned(fromByteOffset: 16, as: UInt64.self) == UInt64(offset)
        for w in headerWords..<words where intact
            && p.loadUnaligned(fromByteOffset: w * 8, as: UInt64.self) != word(file: file, stamp: stamp, word: w) {
            intact = false
        }
        return Reading(valid: true, file: file, stamp: stamp, intact: intact)
    }
}

/// What one thread wrote: for every sector of the files it owns, the stamp
/// of the last acknowledged write and of a later write whose outcome is
/// unknown (it failed or was cut off), and the files it created.
public struct WriteLedger: Sendable {
    /// Per (file index, sector number): acknowledged and uncertain stamps.
    public var sectors: [UInt64: (acked: UInt64, uncertain: UInt64?)] = [:]
    /// Files created and closed successfully, by path: (file id, size, stamp).
    public var created: [String: (file: UInt32, size: Int, stamp: UInt64)] = [:]
    /// Reads that returned another file's data, or bytes that are not what
    /// was written.
    public var wrongFileReads: UInt64 = 0

    @inline(__always)
    static func key(_ file: UInt32, _ sector: Int) -> UInt64 { UInt64(file) << 32 | UInt64(sector) }

    /// Records a write of `count` bytes at `offset` of `file` with `stamp`.
    mutating func wrote(file: UInt32, offset: Int, count: Int, stamp: UInt64, acknowledged: Bool) {
        var s = offset / SectorStamp.size
        while s * SectorStamp.size < offset + count {
            let k = Self.key(file, s)
            let old = sectors[k] ?? (acked: 0, uncertain: nil)
            sectors[k] = acknowledged ? (acked: stamp, uncertain: nil) : (acked: old.acked, uncertain: stamp)
            s += 1
        }
    }
}
