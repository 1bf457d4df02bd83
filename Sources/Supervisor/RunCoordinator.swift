// One run of a workload on one target: scratch space, fileset, mount and
// server (for the reference target), load, teardown, result.
import Workload
import CFuseShim
import Foundation
import Contract
import FuseServer
import LoadGen
import Glibc
import ResultModel
import Synchronization

/// What a workload runs against.
public enum Target: String, CaseIterable, Sendable {
    /// The reference FUSE server over a backing directory.
    case reference
    /// The backing directory itself, no FUSE: the reference point.
    case native
    /// Another FUSE server, from a command template (`--server`).
    case external
    /// No file system at all: the load generator picks, times and records
    /// operations without making them (its own cost).
    case null
    /// An existing directory (`--directory`), on whatever is mounted there:
    /// the fileset goes into a subdirectory that is removed afterwards.
    case directory
}

/// Receives progress of a run.
public protocol RunReporter: AnyObject {
    /// A new step ("building fileset ...").
    func phase(_ text: String)
    /// Load progress, about ten times a second.
    func progress(_ p: LoadProgress)
}

/// Runs workloads.
public enum RunCoordinator {
    /// Runs `workload` on `target`, with `strategy` when the workload
    /// injects faults. `executable` is the fusebench binary that serves the
    /// reference target.
    public static func run(_ workload: Workload, target: Target, strategy: Strategy? = nil, peer: PeerServer? = nil,
                           directory: String? = nil, executable: String, reporter: RunReporter) throws -> RunResult {
        guard (target == .directory) == (directory != nil) else {
            throw SupervisorError.input("the directory target needs --directory PATH, and --directory goes with it")
        }
        guard (target == .external) == (peer != nil) else {
            throw SupervisorError.input(target == .external ? "the external target needs a server command (--server)"
                                                            : "a server command (--server) goes with the external target")
        }
        if strategy != nil && workload.faults.isEmpty {
            throw SupervisorError.input("restart strategy \(strategy!.rawValue) given, but \(workload.name) injects no "
                                        + "fault, so nothing would restart: give a fault (--fault kill:every=1s) "
                                        + "or drop the strategy")
        }
        if workload.clients.isEmpty {
            // A fault that can never fire is a mistake, not a quiet run.
            for f in workload.faults {
                if let times = f.times(duration: workload.load.duration), times.isEmpty {
                    throw SupervisorError.input("the fault \(f.asCommandLine) falls after the end of the measured phase "
                                                + "(\(fmtSeconds(workload.load.duration))) of \(workload.name): "
                                                + "schedule it earlier or run longer (--duration)")
                }
            }
        }
        if !workload.faults.isEmpty {
            guard target == .reference || target == .external else {
                throw SupervisorError.input("faults need a server: the reference target, or --server COMMAND "
                                            + "(there is no server to kill on the \(target.rawValue) target)")
            }
            guard strategy != nil else {
                throw SupervisorError.input("the workload injects faults: give a restart strategy (--strategy, or "
                                            + "\"strategies\" in the workload): \(Strategy.names)")
            }
            let options = workload.server
            for f in workload.faults {
                if target == .reference, case .crashInOp(let op, _) = f.kind, [.read, .write].contains(op),
                   options.passthrough && !options.writebackCache {
                    throw SupervisorError.input("the fault \(f.asCommandLine) can never fire: with FUSE passthrough (on "
                                                + "by default) reads and writes never reach the server; turn it off "
                                                + "(\"server\": {\"passthrough\": false}, or --server-option passthrough=false) or "
                                                + "crash in another operation")
                }
            }
        }
        if target == .reference && workload.server.ioUring, let problem = KernelFeatures.ioUringProblem() {
            throw SupervisorError.environment(problem)
        }
        let scratch = try ScratchSpace()
        defer { scratch.remove() }
        let backing: String
        if let directory {
            // The fileset goes under the user's directory, and leaves with the run.
            backing = "\(directory)/fusebench-\(getpid())"
            guard mkdir(backing, 0o755) == 0 else {
                throw SupervisorError.input("cannot create \(backing): \(String(cString: strerror(errno))); "
                                            + "--directory must be a writable directory")
            }
        } else {
            backing = try scratch.directory("backing")
        }
        defer { if directory != nil { try? FileManager.default.removeItem(atPath: backing) } }
        if target == .reference && (strategy?.forcedNodeIds ?? workload.server.nodeIds) != .ephemeral {
            try requireHandles(backing)
        }
        let fs = workload.load.fileset
        let reuseKey = directory == nil ? FilesetCache.key(of: workload) : nil
        var reused = false
        if let reuseKey, FilesetCache.shared.take(reuseKey, into: backing) {
            reused = true
            reporter.phase("fileset: \(fs.fileCount) files of \(fs.fileSize) bytes in \(fs.dirs) directories, "
                           + "as the run before left it (no operation of this workload changes it)")
        } else {
            reporter.phase("building fileset: \(fs.fileCount) files of \(fs.fileSize) bytes in \(fs.dirs) directories")
            do {
                try Fileset(spec: fs, root: backing).build(threads: workload.load.threads)
            } catch {
                throw SupervisorError.failed("\(error)")
            }
        }
        // After the unmount (a later defer runs first): kept for the next run.
        defer { if let reuseKey { FilesetCache.shared.keep(reuseKey, from: backing) } }
        if fbshim_stop_requested() != 0 { throw SupervisorError.interrupted }
        let clients = workload.clients.isEmpty ? nil
            : try ClientRunner(workload.clients, backing: backing, scratch: scratch.directory("clients"))

        // The reference server's mount (faults, statistics), and whichever
        // mount a server of ours serves (the reference server's or another's).
        var mount: FuseMount?
        var external: ExternalMount?
        var served: ServedMount?
        defer { served?.unmount(timeout: 10) }
        let root: String
        switch target {
        case .native, .null, .directory:
            root = backing
        case .external:
            let mnt = try scratch.directory("mnt")
            reporter.phase("mounting \(peer!.name)")
            external = try ExternalMount(peer: peer!, source: backing, mountpoint: mnt, options: workload.server,
                                         dir: scratch.path, executable: executable, strategy: strategy)
            served = external
            root = mnt
        case .reference:
            let mnt = try scratch.directory("mnt")
            reporter.phase("mounting the reference server (\(workload.server.threads) threads, node ids: "
                           + "\((strategy?.forcedNodeIds ?? workload.server.nodeIds).rawValue)"
                           + (strategy.map { ", strategy \($0.rawValue)" } ?? "") + ")")
            mount = try FuseMount(source: backing, mountpoint: mnt, options: workload.server, dir: scratch.path,
                                  executable: executable, strategy: strategy)
            served = mount
            root = mnt
        }

        var primed: Int?
        var primedSlab: [String: Int64]?
        if workload.prime {
            let files = Fileset(spec: workload.load.fileset, root: root).allFiles()
            reporter.phase("priming: stat of \(files.count) files through \(target.rawValue)")
            let slabBefore = Slab.bytes()
            // Four threads: the server answers LOOKUPs on several at once.
            let failed = Mutex<String?>(nil)
            let parts = 4
            DispatchQueue.concurrentPerform(iterations: parts) { part in
                var st = stat()
                for i in stride(from: part, to: files.count, by: parts) where lstat(files[i], &st) != 0 {
                    let e = errno
                    failed.withLock { $0 = $0 ?? "priming: stat \(files[i]) failed: \(String(cString: strerror(e)))" }
                    return
                }
            }
            if let why = failed.withLock({ $0 }) { throw SupervisorError.failed(why) }
            primed = files.count
            if let before = slabBefore, let after = Slab.bytes() {
                primedSlab = after.reduce(into: [:]) { $0[$1.key] = $1.value - (before[$1.key] ?? 0) }
            }
        }
        var spec = workload.load
        if let clients {
            clients.mounted(at: root)
            _ = clients.setupAll(reporter: reporter)
            if fbshim_stop_requested() != 0 { throw SupervisorError.interrupted }
            // The measured phase lasts until the last client exits.
            spec.duration = (workload.clients.map(\.timeout).max() ?? 0) + 1
        }
        let generator = LoadGenerator(spec: spec, root: root, null: target == .null,
                                      bucketNs: workload.faults.isEmpty ? Phases.bucketNs : Phases.fineBucketNs)
        // Before the load starts (a million paths take a moment): the files
        // a revalidation sweep stats again after a restart.
        let sweepFiles = workload.faults.contains(where: \.revalidate)
            ? Fileset(spec: workload.load.fileset, root: root).allFiles() : []
        let clientsDone = DispatchSemaphore(value: 0)
        let limit = UInt64(Settings.watchdogSeconds * 1e9)
        var stalled = false
        var serverDied: String?
        var supervisor: FaultSupervisor?
        let supervisorDone = DispatchSemaphore(value: 0)
        let targetName = peer?.name ?? target.rawValue
        var countsBefore: [String: OpcodeReport]?
        let clientNames = workload.clients.map(\.name).joined(separator: ", ")
        reporter.phase("running \(workload.name) on \(targetName): \(workload.load.threads) threads, "
                       + "\(fmtSeconds(workload.load.warmup)) warm-up, "
                       + (clients == nil ? "\(fmtSeconds(workload.load.duration)) measured"
                                         : "measured until the clients exit (\(clientNames))")
                       + (workload.faults.isEmpty ? "" : ", \(workload.faults.count) fault spec(s)"))
        let load = generator.run(progress: { p in
            var p = p
            if let clients, p.phase == "measure" { p.clients = (clients.running.load(ordering: .relaxed), clients.count) }
            reporter.progress(p)
            // A restart replaces the server: only a run without faults
            // watches for its death here.
            if supervisor == nil, let m = served, serverDied == nil, let st = m.server.poll() {
                let what = m === mount ? "Its log" : "Its output"
                serverDied = "\(m.serverName) \(m.server.describe(st)) during the run. \(what):\n\(m.server.logTail())"
                m.abortConnection()
                generator.control.stop()
            }
            if !stalled, let oldest = generator.control.oldestInFlight, fbshim_monotonic_ns() > oldest + limit {
                stalled = true
                served?.abortConnection()
                generator.control.stop()
            }
        }, onStart: { phases in
            // The reconciliation counts requests from here: the threads have not started.
            countsBefore = mount?.stats.report().opcodes
            if let clients {
                Thread.detachNewThread {
                    clients.runAll(at: phases.measureStart)
                    generator.control.stop()
                    clientsDone.signal()
                }
            }
            guard let m: RestartableMount = mount ?? (strategy != nil ? external : nil), !workload.faults.isEmpty
            else { return }
            let s = FaultSupervisor(mount: m, control: generator.control, faults: workload.faults, phases: phases,
                                    duration: spec.duration,
                                    files: sweepFiles)
            supervisor = s
            Thread.detachNewThread {
                s.run()
                supervisorDone.signal()
            }
        })
        debugTrace("load finished")
        if let clients {
            // Ended otherwise (a stop, a dead server): the clients go too.
            clients.stop()
            clientsDone.wait()
        }
        if let s = supervisor {
            s.finished.store(true, ordering: .relaxed)
            supervisorDone.wait()
        }
        debugTrace("supervisor finished")
        // Interrupted during the load: what was measured is kept (marked
        // partial), as fio writes what it measured; the teardown is as usual.
        let interrupted = fbshim_stop_requested() != 0
        if let serverDied { throw SupervisorError.failed(serverDied) }
        if let failure = supervisor?.failure { throw failure }
        if stalled {
            // A server that stopped answering will not exit on unmount either.
            served?.server.killAndReap()
            let why = workload.server.ioUring && strategy?.keepsConnection == true && !workload.faults.isEmpty
                ? " " + HazardRunner.ioUringResendNote : ""
            throw SupervisorError.watchdog("an operation on \(root) made no progress for \(fmtSeconds(Settings.watchdogSeconds)); "
                                           + "aborted the FUSE connection.\(why) Server log:\n\(served?.server.logTail() ?? "")")
        }
        var reports: [ServerReport] = []
        let resident = mount?.server.residentBytes()
        var accounting: RequestAccounting?
        if let m = mount, let before = countsBefore {
            // Requests the load caused may still arrive (RELEASE is sent
            // after close(2) returns): wait until the server is quiet.
            m.waitQuiet()
            let now = m.serverReports()
            accounting = RequestAccounting(clientOperations: load.issued, clientBytes: load.issuedBytes, before: before,
                                           after: ServerReport.summedOpcodes(now),
                                           notificationBytes: now.compactMap(\.notificationBytes).reduce(0, +))
        }
        if let clients {
            clients.verifyAll(reporter: reporter)
        }
        if let m = served {
            debugTrace("unmounting")
            let status = m.unmount(timeout: 10)
            debugTrace("unmounted; server status \(status.map(String.init) ?? "none")")
            if let fm = mount { reports = fm.serverReports() }
            if let em = external, strategy != nil { reports = em.serverReports() }
            if let status, status != 0, supervisor?.abandoned == nil {
                let what = m === mount ? "Its log" : "Its output"
                throw SupervisorError.failed("\(m.serverName) \(m.server.describe(status)) at unmount. \(what):\n"
                                             + m.server.logTail())
            }
        }
        var result = RunResult(target: targetName, workload: workload.asRun,
                               startedAt: ISO8601.string(load.measureStartedAt), measuredSeconds: load.measuredSeconds,
                               threads: workload.load.threads, operations: load.operations, total: load.total,
                               timeline: load.timeline, server: reports.first)
        result.strategy = strategy?.rawValue
        result.serverCommand = (served as? ExternalMount)?.command
        result.serverResidentBytes = resident
        result.sweep = workload.sweepPoint
        result.primedFiles = primed
        result.primedSlabBytes = primedSlab
        if reused { result.filesetReused = true }
        result.accounting = accounting
        if workload.load.threads > 0 {
            result.integrity = IntegrityVerifier.verify(root: backing, spec: workload.load, ledgers: load.ledgers)
        }
        if reports.count > 1 { result.restartedServers = Array(reports.dropFirst()) }
        if let s = supervisor {
            result.faults = merge(s.timings, load: load)
            result.recoveryControl = recoveryControl(s.timings, load: load)
        }
        result.clients = clients?.results(faults: result.faults ?? [], measureStartNs: load.measureStartNs)
        if interrupted { result.partial = true }
        result.abandoned = supervisor?.abandoned
        return result
    }

    /// The recovery measure at instants halfway between the harness's
    /// faults that fired (`RunResult.recoveryControl`).
    static func recoveryControl(_ timings: [FaultTiming], load: LoadResult) -> Metric? {
        let at = timings.filter { $0.event.triggered && $0.event.kind != "death" }
            .map { $0.faultNs - min($0.faultNs, load.measureStartNs) }.sorted()
        return Recovery.controlTimeToThroughput(succeededOnly(load.timeline), faultsNs: at).map { .nanoseconds($0) }
    }

    /// `timeline` counting successful operations only: recovery counts
    /// those (failing fast is not throughput).
    static func succeededOnly(_ timeline: Timeline) -> Timeline {
        var t = timeline
        t.completed = timeline.succeeded
        return t
    }

    /// Adds the client side of each fault to the server-side timings.
    static func merge(_ timings: [FaultTiming], load: LoadResult) -> [FaultEvent] {
        let endNs = UInt64(load.measuredSeconds * 1e9)
        let succeeded = succeededOnly(load.timeline)
        return timings.enumerated().map { n, t in
            var e = t.event
            guard e.triggered else { return e }
            if let c = load.faults[e.index] {
                // Stalled: in flight at the fault, or started before the
                // server answered again (a hang, a restart) and waited.
                let back = t.firstReplyNs != 0 ? t.firstReplyNs : t.faultNs
                let caught = c.slowAfter.filter { $0.start <= back }
                let during = caught.max { $0.end - $0.start < $1.end - $1.start }
                let startedDuring = during.map { $0.end - $0.start } ?? 0
                e.clientStall = .nanoseconds(max(c.stallNs, startedDuring))
                if let d = during, startedDuring > c.stallNs {
                    e.longestStall = StalledOperation(operation: d.operation, beforeFault: .nanoseconds(0),
                                                      afterFault: .nanoseconds(startedDuring))
                } else if let l = c.longest {
                    e.longestStall = StalledOperation(operation: l.operation,
                                                      beforeFault: .nanoseconds(t.faultNs - min(t.faultNs, l.start)),
                                                      afterFault: .nanoseconds(l.end - min(l.end, t.faultNs)))
                }
                let endedLast = caught.map(\.end).max() ?? 0
                e.waitAfterFault = .nanoseconds(max(c.waitNs, endedLast - min(endedLast, t.faultNs)))
                e.operationsInFlight = c.inFlight
                e.latencyAfter = c.latencyAfter
                e.errorsAfter = c.errorsAfter
                e.applicationErrors.value = Double(c.errorsAfter.values.flatMap(\.values).reduce(0, +))
                // Operations answered before the new server's first reply were
                // not waiting for it (answered just before the fault, or from cache).
                let served = max(t.firstReplyNs, t.faultNs)
                if let r = c.resumedNs.first(where: { $0 >= served }) { e.outageToClientResume = .nanoseconds(r - t.faultNs) }
            }
            let faultOffset = t.faultNs - min(t.faultNs, load.measureStartNs)
            let next = n + 1 < timings.count ? timings[n + 1].faultNs - min(timings[n + 1].faultNs, load.measureStartNs)
                                             : endNs
            switch Recovery.outcome(succeeded, faultNs: faultOffset, limitNs: max(next, faultOffset)) {
            case .recovered(let ns): e.recoveryToThroughput = .nanoseconds(ns)
            case .notWithin(let ns): e.notRecoveredWithin = .nanoseconds(ns)
            case .noBaseline: break
            }
            return e
        }
    }
}

/// Throws unless `dir`'s file system gives the 8-byte (inode, generation)
/// file handles that handle node ids are made of.
func requireHandles(_ dir: String) throws {
    let handle = try? BackingHandle.of(AT_FDCWD, dir, flags: 0)
    guard handle?.packedNodeId == nil else { return }
    throw SupervisorError.environment("""
        the scratch file system under \(ScratchSpace.base) has no 8-byte (inode, generation) file \
        handles (it gave \(handle.map { "\($0.bytes.count)-byte handles" } ?? "no handles")), which the \
        handle node-id scheme needs. Put the scratch space on ext4 or xfs (FUSEBENCH_SCRATCH=/var/tmp), \
        or set "server": {"nodeIds": "ephemeral"} in the workload.
        """)
}

/// "2s", "0.5s".
func fmtSeconds(_ s: Double) -> String {
    s == s.rounded() ? "\(Int(s))s" : String(format: "%.2gs", s)
}
