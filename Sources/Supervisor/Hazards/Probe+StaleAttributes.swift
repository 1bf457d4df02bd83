// The stale-attributes hazard: files changed during the outage while the
// kernel caches their attributes.
import Workload
import CFuseShim
import Foundation
import Contract
import FuseServer
import Glibc
import ResultModel

extension Probe {
    /// Every file's size, mode and mtime change during the outage, while the
    /// kernel holds their attributes with long timeouts. After the restart,
    /// stat through the mount must agree with the backing file.
    func staleAttributes() throws -> [HazardFigure: Double] {
        let paths = files.map(mountPath)
        let primed = try guarded("priming") { () -> Int in
            var st = stat()
            return paths.filter { lstat($0, &st) != 0 }.count
        }
        if primed > 0 { throw SupervisorError.failed("priming: \(primed) files could not be stat'ed through the mount") }
        let outage = try killAndRestart {
            for rel in files {
                let p = backingPath(rel)
                truncate(p, 4096 + 512)
                chmod(p, 0o600)
                var times = [timespec(tv_sec: 1_000_000_000, tv_nsec: 0), timespec(tv_sec: 1_000_000_000, tv_nsec: 0)]
                utimensat(AT_FDCWD, p, &times, 0)
            }
        }
        let seen = try guarded("stat after the restart") { () -> [stat?] in
            paths.map { p in
                var st = stat()
                return lstat(p, &st) == 0 ? st : nil
            }
        }
        var stale = 0, size = 0, mode = 0, mtime = 0, errors = 0
        for (i, s) in seen.enumerated() {
            guard let s else { errors += 1; continue }
            var b = stat()
            lstat(backingPath(files[i]), &b)
            let dSize = s.st_size != b.st_size, dMode = s.st_mode != b.st_mode, dTime = s.st_mtim.tv_sec != b.st_mtim.tv_sec
            if dSize { size += 1 }
            if dMode { mode += 1 }
            if dTime { mtime += 1 }
            if dSize || dMode || dTime { stale += 1 }
        }
        return [.outageNs: outage, .filesProbed: Double(files.count), .staleAttributes: Double(stale),
                .staleSize: Double(size), .staleMode: Double(mode), .staleMtime: Double(mtime),
                .statErrors: Double(errors)]
    }
}
