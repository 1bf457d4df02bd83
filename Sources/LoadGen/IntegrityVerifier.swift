// After a run: is every write acknowledged to a client still there? Reads
// the files on the backing directory (not through FUSE) and compares every
// sector with what the ledgers say was written.
import Glibc
import ResultModel

/// Verifies fileset files and created files against the threads' ledgers.
public enum IntegrityVerifier {
    /// Checks the fileset and created files under `root` (the backing
    /// directory) against `ledgers` (one per thread, in thread order).
    public static func verify(root: String, spec: LoadSpec, ledgers: [WriteLedger]) -> IntegrityReport {
        var report = IntegrityReport()
        report.wrongFileReads = ledgers.reduce(0) { $0 + $1.wrongFileReads }
        // No client threads (a load of real programs only): nothing was written.
        guard spec.threads > 0 else { return report }
        let fileset = Fileset(spec: spec.fileset, root: root)
        let buf = UnsafeMutableRawPointer.allocate(byteCount: 1 << 20, alignment: 4096)
        defer { buf.deallocate() }
        for (i, path) in fileset.allFiles().enumerated() {
            let ledger = ledgers[Fileset.owner(ofFile: i, threads: spec.threads)]
            check(path, file: UInt32(i), size: spec.fileset.fileSize, buf: buf, report: &report) { sector in
                ledger.expected(file: UInt32(i), sector: sector)
            }
        }
        for ledger in ledgers {
            for (rel, c) in ledger.created {
                check("\(root)/\(rel)", file: c.file, size: c.size, buf: buf, report: &report) { _ in (c.stamp, nil) }
            }
        }
        return report
    }

    /// Compares one file's full sectors with the expected stamps.
    private static func check(_ path: String, file: UInt32, size: Int, buf: UnsafeMutableRawPointer,
                              report: inout IntegrityReport, expected: (Int) -> (UInt64, UInt64?)) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            report.missingFiles += 1
            return
        }
        defer { close(fd) }
        report.filesChecked += 1
        var st = stat()
        fstat(fd, &st)
        if Int(st.st_size) < size { report.lostBytes += UInt64(size - Int(st.st_size)) }
        var off = 0
        while off < size {
            let n = pread(fd, buf, min(1 << 20, size - off), off_t(off))
            if n <= 0 { break }
            var s = 0
            while s + SectorStamp.size <= n {
                let at = off + s
                let r = SectorStamp.read(buf + s, offset: at)
                let (acked, uncertain) = expected(at / SectorStamp.size)
                let bytes = UInt64(SectorStamp.size)
                report.bytesChecked += bytes
                if !r.valid || r.file != file {
                    report.foreignBlocks += 1
                } else if r.stamp == acked || (uncertain != nil && r.stamp == uncertain!) {
                    if !r.intact { report.corruptedBytes += bytes }
                } else if r.stamp < acked && r.intact {
                    report.lostBytes += bytes
                } else {
                    report.corruptedBytes += bytes
                }
                s += SectorStamp.size
            }
            off += n
        }
    }
}
