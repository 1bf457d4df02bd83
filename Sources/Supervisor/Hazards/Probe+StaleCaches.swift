// The stale-caches hazard: what the kernel caches beyond attributes, file
// pages and directory listings, when the backing objects change while no
// server runs. Read and listed through the mount before the crash (with
// the page cache kept across opens), changed behind the server's back
// during the outage, read and listed again after the restart.
import Workload
import CFuseShim
import Foundation
import Contract
import FuseServer
import Glibc
import ResultModel

extension Probe {
    /// Every file's content is rewritten in place (same size) and a file is
    /// added to every directory during the outage; after the restart, reads and listings
    /// through the mount must show the change.
    func staleCaches() throws -> [HazardFigure: Double] {
        let dirs = Array(Set(files.map { ($0 as NSString).deletingLastPathComponent })).sorted()
        func listing(_ path: String) -> [String]? {
            (try? FileManager.default.contentsOfDirectory(atPath: path))?.sorted()
        }
        // Prime: every file read in full (its pages cached), every directory listed.
        let primed = try guarded("priming") { () -> Bool in
            self.files.allSatisfy { if case .name(let n?) = Probe.read(self.mountPath($0)) { return n.hasPrefix("file ") }; return false }
                && dirs.allSatisfy { listing(self.mountPath($0)) != nil }
        }
        guard primed else { throw SupervisorError.failed("priming: reading or listing through the mount failed") }
        let outage = try killAndRestart {
            // In place: the same inodes, so that only caches can be stale.
            for (i, rel) in files.enumerated() {
                let fd = open(backingPath(rel), O_WRONLY | O_CLOEXEC)
                guard fd >= 0 else { continue }
                let body = HazardRunner.stamp("changed \(i)")
                _ = pwrite(fd, body, body.count, 0)
                close(fd)
            }
            for d in dirs {
                _ = FileManager.default.createFile(atPath: backingPath("\(d)/added-during-outage"), contents: Data())
            }
        }
        let reads = try guarded("reading after the restart") { () -> [Reading] in
            self.files.map { Probe.read(self.mountPath($0)) }
        }
        let listings = try guarded("listing after the restart") { () -> [[String]?] in
            dirs.map { listing(self.mountPath($0)) }
        }
        var staleData = 0, readErrors = 0
        for (i, r) in reads.enumerated() {
            switch r {
            case .name(let n) where n == "changed \(i)": break
            case .name: staleData += 1
            case .error: readErrors += 1
            }
        }
        var staleListings = 0
        for (d, seen) in zip(dirs, listings) {
            guard let seen else { readErrors += 1; continue }
            if seen != listing(backingPath(d)) { staleListings += 1 }
        }
        return [.outageNs: outage, .filesProbed: Double(files.count), .directoriesProbed: Double(dirs.count),
                .staleData: Double(staleData), .staleListings: Double(staleListings), .readErrors: Double(readErrors)]
    }
}
