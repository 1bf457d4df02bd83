// The ephemeral-ids hazard: node ids the kernel cached that the new server
// does not know.
import Workload
import CFuseShim
import Foundation
import Contract
import FuseServer
import Glibc
import ResultModel

extension Probe {
    /// Every file is stat'ed and read before the crash, so that the kernel
    /// caches its node id, and again after the restart: the new server must
    /// know every id the kernel still uses.
    func ephemeralIds() throws -> [HazardFigure: Double] {
        try prime()
        let outage = try killAndRestart()
        let paths = files.map(mountPath)
        let readings = try guarded("reading after the restart") { paths.map(Probe.read) }
        var errors = 0, wrong = 0
        for (i, r) in readings.enumerated() {
            switch r {
            case .name(let n) where n == "file \(i)": break
            case .name: wrong += 1
            case .error: errors += 1
            }
        }
        return [.outageNs: outage, .filesProbed: Double(files.count),
                .unknownNodeIds: Double(mount.stats.report().unknownNodeIds),
                .applicationErrors: Double(errors), .wrongDataReads: Double(wrong)]
    }
}
