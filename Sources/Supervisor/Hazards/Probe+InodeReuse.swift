// The inode-reuse hazard: inode numbers reused behind the dead server's back.
import Workload
import CFuseShim
import Foundation
import Contract
import FuseServer
import Glibc
import ResultModel

extension Probe {
    /// The backing file system changes behind the dead server's back: half
    /// the files are deleted and as many new ones created, which reuses
    /// their inode numbers. After the restart every old path is read: a
    /// deleted file must be gone (ENOENT, ESTALE), a survivor must read as
    /// itself, and no read may return another file's data.
    func inodeReuse() throws -> ([HazardFigure: Double], String?) {
        try prime()
        let doomed = Array(files.prefix(files.count / 2))
        var deletedInodes = Set<UInt64>()
        var reused = 0
        var foreign: [String] = []
        let outage = try killAndRestart {
            var st = stat()
            for rel in doomed {
                if lstat(backingPath(rel), &st) == 0 { deletedInodes.insert(UInt64(st.st_ino)) }
                unlink(backingPath(rel))
            }
            for (j, rel) in doomed.enumerated() {
                let name = (rel as NSString).deletingLastPathComponent + "/new\(j)"
                guard FileManager.default.createFile(atPath: backingPath(name),
                                                     contents: Data(HazardRunner.stamp("foreign \(j)"))) else {
                    throw SupervisorError.failed("cannot create \(backingPath(name)) in the backing directory: "
                                                 + String(cString: strerror(errno)))
                }
                if lstat(backingPath(name), &st) == 0 && deletedInodes.contains(UInt64(st.st_ino)) { reused += 1 }
                foreign.append(name)
            }
        }
        let doomedSet = Set(doomed)
        let (paths, foreignPaths) = (files.map(mountPath), foreign.map(mountPath))
        let readings = try guarded("reading after the restart") { () -> [Reading] in
            // New names first: a server that hands out ids afresh gives them
            // to these, so that ids the kernel cached may now name them.
            for p in foreignPaths { _ = Probe.read(p) }
            return paths.map(Probe.read)
        }
        var wrong = 0, survivorErrors = 0, deletedReadable = 0
        for (i, r) in readings.enumerated() {
            let deleted = doomedSet.contains(files[i])
            switch r {
            case .name(let n) where n == "file \(i)":
                if deleted { deletedReadable += 1 }
            case .name:
                wrong += 1
            case .error:
                if !deleted { survivorErrors += 1 }
            }
        }
        let figures: [HazardFigure: Double] = [
            .outageNs: outage, .filesProbed: Double(files.count), .filesReplaced: Double(doomed.count),
            .inodesReused: Double(reused), .wrongDataReads: Double(wrong), .survivorErrors: Double(survivorErrors),
            .deletedStillReadable: Double(deletedReadable),
        ]
        return (figures, reused == 0 ? "no inode number was reused during the outage, so nothing was at stake" : nil)
    }
}
