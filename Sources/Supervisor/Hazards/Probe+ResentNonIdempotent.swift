// The resent-non-idempotent hazard: create, mkdir, unlink and rename in
// flight at a crash, resent to the next server.
import Workload
import CFuseShim
import Foundation
import Contract
import FuseServer
import Glibc
import ResultModel

extension Probe {
    /// create, mkdir, unlink and rename, each with the server armed to crash
    /// after doing the work and before replying: the kernel resends the
    /// request to the next server. The application must see success and
    /// the effect must be there, once.
    func resentNonIdempotent() throws -> ([HazardFigure: Double], String?) {
        let dir = "h/ops"
        // setup: whether the file the operation needs could be made.
        let ops: [(opcode: Opcode, setup: () -> Bool, call: () -> Int32, effect: () -> Bool)] = [
            (.create, { true }, { [self] in
                let fd = open(mountPath("\(dir)/created"), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o644)
                if fd < 0 { return errno }
                close(fd)
                return 0
            }, { [self] in access(backingPath("\(dir)/created"), F_OK) == 0 }),
            (.mkdir, { true }, { [self] in mkdir(mountPath("\(dir)/made"), 0o755) == 0 ? 0 : errno },
             { [self] in access(backingPath("\(dir)/made"), F_OK) == 0 }),
            (.unlink, { [self] in
                FileManager.default.createFile(atPath: mountPath("\(dir)/doomed"), contents: Data(HazardRunner.stamp("doomed")))
            }, { [self] in unlink(mountPath("\(dir)/doomed")) == 0 ? 0 : errno },
             { [self] in access(backingPath("\(dir)/doomed"), F_OK) != 0 }),
            (.rename, { [self] in
                FileManager.default.createFile(atPath: mountPath("\(dir)/src"), contents: Data(HazardRunner.stamp("moved")))
            }, { [self] in rename(mountPath("\(dir)/src"), mountPath("\(dir)/dst")) == 0 ? 0 : errno },
             { [self] in
                access(backingPath("\(dir)/src"), F_OK) != 0
                    && Probe.read(backingPath("\(dir)/dst")) == .name("moved")
             }),
        ]
        _ = try guarded("setting up") { [self] in mkdir(mountPath(dir), 0o755) }
        var fired = 0, spurious = 0, missing = 0
        var outages: [Double] = []
        for op in ops {
            guard try guarded("setting up \(op.opcode.name)", { op.setup() }) else {
                throw SupervisorError.failed("cannot create the file \(op.opcode.name) works on under \(mountPath(dir))")
            }
            try mount.prepareStandby()
            let server = mount.server
            let call = try crashing {
                mount.stats.armCrash(op.opcode, phase: .after)
                let call = Background(op.call)
                let deadline = Date().addingTimeInterval(5)
                while server.poll() == nil && Date() < deadline { usleep(200) }
                if server.poll() != nil {
                    fired += 1
                    let t0 = mount.stats.crashNs != 0 ? mount.stats.crashNs : fbshim_monotonic_ns()
                    try restartAfterCrash()
                    outages.append(Double(fbshim_monotonic_ns() - t0))
                } else {
                    mount.stats.disarm()
                }
                return call
            }
            if try finish("\(op.opcode.name) resent after the crash", call) != 0 { spurious += 1 }
            if !op.effect() { missing += 1 }
        }
        let figures: [HazardFigure: Double] = [
            .outageNs: Statistics.median(outages) ?? 0, .operations: Double(ops.count), .crashesFired: Double(fired),
            .spuriousErrors: Double(spurious), .missingEffects: Double(missing),
            .resentRequests: serverTotal(\.resentRequests), .resentRecognised: serverTotal(\.resentRecognised),
            .resentAnomalies: serverTotal(\.resentAnomalies),
        ]
        return (figures, fired < ops.count ? "only \(fired) of \(ops.count) armed crashes fired" : nil)
    }
}
