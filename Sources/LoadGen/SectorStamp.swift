// Self-describing file content: every 512-byte sector starts with a header
// {magic, file index, stamp} and the rest is a pattern derived from the
// three and the offset. A reader can tell from any sector which file and
// which write it belongs to, and whether its bytes are intact.

/// The sector format of fileset files and of everything the load writes:
/// a 24-byte header {magic, file index, stamp, offset} and a fixed body
/// pattern. The header says which file, which write and which offset a
/// sector belongs to; the body shows it is not torn or garbage. A writer
/// fills the body once and then writes only headers, so stamping costs the
/// load almost nothing.
public enum SectorStamp {
    /// Sector size.
    public static let size = 512
    static let magic: UInt32 = 0x5257_4246 // "FBWR"
    static let headerWords = 3
    static let words = size / 8

    @inline(__always)
    static func word(_ w: Int) -> UInt64 {
        var x = UInt64(w) &* 0xBF58_476D_1CE4_E5B9 ^ 0x5EC7_0C0D_E5EC_7012
        x ^= x >> 29
        return x &* 0x94D0_49BB_1331_11EB
    }

    /// Fills `count` bytes (a multiple of 512) at `p` with the sectors of
    /// `file` at file offset `offset` (512-aligned) written by `stamp`.
    /// With `bodyReady`, the bodies are already there: only headers change.
    public static func fill(_ p: UnsafeMutableRawPointer, count: Int, file: UInt32, offset: Int, stamp: UInt64,
                            bodyReady: Bool = false) {
        var s = 0
        while s + size <= count {
            let base = p + s
            if !bodyReady {
                for w in headerWords..<words { base.storeBytes(of: word(w), toByteOffset: w * 8, as: UInt64.self) }
            }
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
            && p.loadUnaligned(fromByteOffset: w * 8, as: UInt64.self) != word(w) {
            intact = false
        }
        return Reading(valid: true, file: file, stamp: stamp, intact: intact)
    }
}

/// The stamps of one file's sectors: the last acknowledged write and a
/// later write whose outcome is unknown (0: none), per sector.
public struct SectorLog: Sendable {
    /// Last acknowledged stamp per sector (0: the original content).
    public var acked: [UInt64]
    /// A later, unacknowledged stamp per sector (0: none).
    public var uncertain: [UInt64]

    init(sectors: Int) {
        acked = [UInt64](repeating: 0, count: sectors)
        uncertain = acked
    }
}

/// What one thread wrote: the sector stamps of the files it owns, and the
/// files it created. Flat arrays, so recording a write costs a few stores
/// per sector.
public struct WriteLedger: Sendable {
    /// Sector stamps by file index (files this thread wrote).
    public var files: [UInt32: SectorLog] = [:]
    /// Files created and closed successfully, by path relative to the
    /// root: (file id, size, stamp).
    public var created: [String: (file: UInt32, size: Int, stamp: UInt64)] = [:]
    /// Reads that returned another file's data.
    public var wrongFileReads: UInt64 = 0

    /// Records a write of `count` bytes at `offset` of `file` (whose size is
    /// `fileSize`) with `stamp`.
    mutating func wrote(file: UInt32, fileSize: Int, offset: Int, count: Int, stamp: UInt64, acknowledged: Bool) {
        let sectors = (fileSize + SectorStamp.size - 1) / SectorStamp.size
        let first = offset / SectorStamp.size
        let end = min(sectors, (offset + count + SectorStamp.size - 1) / SectorStamp.size)
        guard first < end else { return }
        // Taken out and put back, so the arrays are modified in place.
        var log = files.removeValue(forKey: file) ?? SectorLog(sectors: sectors)
        for s in first..<end {
            if acknowledged {
                log.acked[s] = stamp
                log.uncertain[s] = 0
            } else {
                log.uncertain[s] = stamp
            }
        }
        files[file] = log
    }

    /// Expected (acknowledged, uncertain) stamps of sector `sector` of `file`.
    func expected(file: UInt32, sector: Int) -> (UInt64, UInt64?) {
        guard let log = files[file], sector < log.acked.count else { return (0, nil) }
        let u = log.uncertain[sector]
        return (log.acked[sector], u == 0 ? nil : u)
    }
}
