// The held-descriptors hazard: what real programs do and the synthetic
// load did not. A program (sqlite, a database, a log writer) opens a file
// for writing once and keeps the descriptor across many operations, and so
// across a restart; the first request the new server sees for it may be
// one that carries no open flags (FSYNC, FLUSH, LSEEK), and the handle
// must still come back with the mode it was opened with.
import Workload
import CFuseShim
import Foundation
import Contract
import FuseServer
import Glibc
import ResultModel

extension Probe {
    /// The ways a held descriptor is first used after the restart.
    enum FirstUse: CaseIterable {
        case fsync, fdatasync, seekData, write

        func perform(_ fd: Int32) -> Bool {
            switch self {
            case .fsync: return Glibc.fsync(fd) == 0
            case .fdatasync: return Glibc.fdatasync(fd) == 0
            // SEEK_DATA reaches the server as LSEEK.
            case .seekData: return Glibc.lseek(fd, 0, fbshim_SEEK_DATA) >= 0
            case .write: return true
            }
        }
    }

    /// Descriptors opened for writing (write-only, read-write, appending)
    /// are written before the crash; after it, each is first used by one
    /// of FSYNC, FDATASYNC, LSEEK or a write, then written and synced
    /// again. Both records must be in the backing file.
    func heldDescriptors() throws -> [HazardFigure: Double] {
        let modes: [Int32] = [O_WRONLY, O_RDWR, O_RDWR | O_APPEND, O_WRONLY | O_APPEND]
        let uses = FirstUse.allCases
        let count = min(files.count, modes.count * uses.count * 2)
        struct Held { let index: Int; let fd: Int32; let mode: Int32; let use: FirstUse }
        let paths = Array(files.prefix(count)).map(mountPath)
        let before = { (i: Int) in Array("before restart \(i)\n".utf8) }
        let after = { (i: Int) in Array("after restart \(i)\n".utf8) }
        // Each record at its own offset (appending descriptors: at the end).
        let offset = { (second: Bool) in off_t(4096 + (second ? 64 : 0)) }
        let held = try guarded("opening and writing") { () -> [Held]? in
            var held: [Held] = []
            for (i, p) in paths.enumerated() {
                let mode = modes[i % modes.count], use = uses[(i / modes.count) % uses.count]
                let fd = open(p, mode | O_CLOEXEC)
                guard fd >= 0 else { return nil }
                held.append(Held(index: i, fd: fd, mode: mode, use: use))
                let b = before(i)
                let n = mode & O_APPEND != 0 ? Glibc.write(fd, b, b.count) : pwrite(fd, b, b.count, offset(false))
                guard n == b.count else { return nil }
            }
            return held
        }
        guard let held, held.count == count else {
            throw SupervisorError.failed("opening and writing \(count) files through the mount failed")
        }
        defer { for h in held { close(h.fd) } }
        let outage = try killAndRestart()
        struct Outcome { var syncFailed = false, writeFailed = false }
        let outcomes = try guarded("I/O on descriptors held across the restart") { () -> [Outcome] in
            held.map { h in
                var o = Outcome()
                o.syncFailed = !h.use.perform(h.fd)
                let a = after(h.index)
                let n = h.mode & O_APPEND != 0 ? Glibc.write(h.fd, a, a.count) : pwrite(h.fd, a, a.count, offset(true))
                o.writeFailed = n != a.count || Glibc.fsync(h.fd) != 0
                return o
            }
        }
        // What reached the backing file system.
        let lost = held.filter { h in
            guard let d = FileManager.default.contents(atPath: backingPath(files[h.index])) else { return true }
            let text = String(decoding: d.dropFirst(4096), as: UTF8.self)
            return !text.contains("before restart \(h.index)\n") || !text.contains("after restart \(h.index)\n")
        }
        return [
            .outageNs: outage, .descriptors: Double(held.count),
            .failedSyncs: Double(outcomes.filter(\.syncFailed).count),
            .failedWrites: Double(outcomes.filter(\.writeFailed).count),
            .lostWrites: Double(lost.count),
        ]
    }
}
