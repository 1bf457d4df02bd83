// The open-files hazard: descriptors opened before the crash, some on
// files unlinked while open, used after it.
import Workload
import CFuseShim
import Foundation
import Contract
import FuseServer
import Glibc
import ResultModel

extension Probe {
    /// Descriptors opened before the crash (read-only, read-write, and
    /// read-write files unlinked while open) are read and written after it.
    func openFiles() throws -> [HazardFigure: Double] {
        let count = min(files.count, 32)
        let unlinkedCount = max(1, count / 8)
        let chosen = Array(files.prefix(count))
        struct Held { let index: Int; let fd: Int32; let writable: Bool; let unlinked: Bool }
        let paths = chosen.map(mountPath)
        let held = try guarded("opening") { () -> [Held] in
            paths.enumerated().compactMap { i, p in
                let writable = i % 2 == 1 || i < unlinkedCount
                let fd = open(p, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC)
                guard fd >= 0 else { return nil }
                let unlinked = i < unlinkedCount && unlink(p) == 0
                return Held(index: i, fd: fd, writable: writable, unlinked: unlinked)
            }
        }
        defer { for h in held { close(h.fd) } }
        guard held.count == count else { throw SupervisorError.failed("opening \(count) files through the mount failed") }
        let outage = try killAndRestart()
        struct Outcome { var readFailed = false, wrong = false, writeFailed = false }
        let outcomes = try guarded("I/O on descriptors opened before the restart") { () -> [Outcome] in
            held.map { h in
                var o = Outcome()
                // Not from the page cache: the read must reach the server.
                posix_fadvise(h.fd, 0, 0, POSIX_FADV_DONTNEED)
                switch Probe.read(fd: h.fd) {
                case .name(let n) where n == "file \(h.index)": break
                case .name: o.wrong = true
                case .error: o.readFailed = true
                }
                if h.writable {
                    let data = HazardRunner.stamp("file \(h.index) appended")
                    o.writeFailed = pwrite(h.fd, data, data.count, 4096) != data.count || fsync(h.fd) != 0
                }
                return o
            }
        }
        let unlinked = held.filter(\.unlinked)
        return [
            .outageNs: outage, .descriptors: Double(held.count), .unlinkedWhileOpen: Double(unlinked.count),
            .failedReads: Double(outcomes.filter(\.readFailed).count),
            .failedWrites: Double(outcomes.filter(\.writeFailed).count),
            .wrongDataReads: Double(outcomes.filter(\.wrong).count),
            .lostUnlinked: Double(zip(held, outcomes).filter { $0.0.unlinked && $0.1.readFailed }.count),
        ]
    }
}
