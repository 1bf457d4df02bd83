// The passthrough-reopen hazard: FUSE passthrough's backing files across a
// restart. Files opened in passthrough mode before the crash keep their
// backing file in the kernel (it belongs to the connection, which outlives
// the server); a new open of one of them after the restart is refused by
// the kernel unless the new server names the same backing file
// (fs/fuse/iomode.c, fuse_inode_uncached_io_start: -EBUSY, EIO to the
// opener). The probe also measures whether I/O on the held descriptors goes
// on while no server runs at all.
import Workload
import CFuseShim
import Foundation
import Contract
import FuseServer
import Glibc
import Synchronization

extension Probe {
    /// Opens files read-write and writes a record; kills the server; while
    /// none runs, a thread reads and writes every held descriptor (counted
    /// when done before the restart); after the restart each file is
    /// opened again and read through both descriptors.
    func passthroughReopen() throws -> [HazardFigure: Double] {
        let count = min(files.count, 64)
        let paths = Array(files.prefix(count)).map(mountPath)
        let first = { (i: Int) in Array("first record \(i)\n".utf8) }
        let second = { (i: Int) in Array("during the outage \(i)\n".utf8) }
        let at: off_t = 8192, at2: off_t = 8192 + 64
        let held = try guarded("opening and writing") { () -> [Int32]? in
            var fds: [Int32] = []
            for (i, p) in paths.enumerated() {
                let fd = open(p, O_RDWR | O_CLOEXEC)
                guard fd >= 0 else { return nil }
                fds.append(fd)
                let b = first(i)
                guard pwrite(fd, b, b.count, at) == b.count else { return nil }
            }
            return fds
        }
        guard let held, held.count == count else {
            throw SupervisorError.failed("opening and writing \(count) files through the mount failed")
        }
        defer { for fd in held { close(fd) } }
        // I/O on the held descriptors, started once no server runs.
        final class Tally: Sendable {
            let done = Atomic<Int>(0), failed = Atomic<Int>(0)
        }
        let tally = Tally()
        var outageIO: Background<Void>?
        var completedInOutage = 0
        let outage = try killAndRestart(during: {
            outageIO = Background {
                for (i, fd) in held.enumerated() {
                    let s = second(i)
                    var buf = [UInt8](repeating: 0, count: 64)
                    let ok = pwrite(fd, s, s.count, at2) == s.count && pread(fd, &buf, buf.count, at) > 0
                    if ok { tally.done.add(1, ordering: .relaxed) } else { tally.failed.add(1, ordering: .relaxed) }
                }
            }
            // The outage lasts this long at least, so that I/O that needs no
            // server has the time to finish.
            usleep(200_000)
            // Counted before the restart begins: once a server serves again,
            // I/O that waited for one completes too (the count was taken
            // after the restart, and a WRITE served by the new server in
            // between counted without passthrough: CI-like run, 1 of 8).
            completedInOutage = tally.done.load(ordering: .relaxed)
        })
        if let outageIO { _ = try finish("I/O on held descriptors after the restart", outageIO) }
        struct Outcome { var reopenFailed = false, readFailed = false, wrong = false, writeFailed = false }
        let outcomes = try guarded("opening the files again after the restart") { () -> [Outcome] in
            paths.enumerated().map { i, p in
                var o = Outcome()
                let fd = open(p, O_RDWR | O_CLOEXEC)
                if fd < 0 {
                    o.reopenFailed = true
                } else {
                    defer { close(fd) }
                    var buf = [UInt8](repeating: 0, count: 128)
                    let n = pread(fd, &buf, buf.count, at)
                    if n < 0 { o.readFailed = true } else {
                        let text = String(decoding: buf.prefix(max(0, n)), as: UTF8.self)
                        o.wrong = !text.hasPrefix(String(decoding: first(i), as: UTF8.self))
                            || !text.dropFirst(64).hasPrefix(String(decoding: second(i), as: UTF8.self))
                    }
                }
                // The held descriptor still writes, after the restart too.
                let b = first(i)
                o.writeFailed = pwrite(held[i], b, b.count, at) != b.count
                return o
            }
        }
        return [
            .outageNs: outage,
            .descriptors: Double(count),
            .ioDuringOutage: Double(completedInOutage),
            .failedReopens: Double(outcomes.filter(\.reopenFailed).count),
            .failedReads: Double(outcomes.filter(\.readFailed).count + tally.failed.load(ordering: .relaxed)),
            .failedWrites: Double(outcomes.filter(\.writeFailed).count),
            .wrongDataReads: Double(outcomes.filter(\.wrong).count),
        ]
    }
}
