// Hazard scenarios: a scripted probe around one restart of the reference
// server (or one per operation, for resent requests), on a real mount,
// measured and checked against the outcome the workload file expects.
//
// Every file the probes use starts with a line naming it
// ("fusebench-hazard file 17"), so a read that returns another file's data
// is recognised as such. Every step that touches the mount runs under the
// watchdog: a probe that hangs aborts the connection and fails the run.
import CFuseShim
import Foundation
import Contract
import FuseServer
import Glibc
import ResultModel

/// Runs hazard scenarios.
public enum HazardRunner {
    /// Runs the scenario `workload` with `strategy`.
    public static func run(_ workload: Workload, strategy: Strategy, executable: String,
                           reporter: RunReporter) throws -> RunResult {
        guard let hazard = workload.hazard else { throw SupervisorError.input("\(workload.name) is not a hazard scenario") }
        let scratch = try ScratchSpace()
        defer { scratch.remove() }
        let backing = try scratch.directory("backing")
        if (strategy.forcedNodeIds ?? workload.server.nodeIds) != .ephemeral { try requireHandles(backing) }
        let mnt = try scratch.directory("mnt")
        let files = try makeFiles(backing, count: hazard.files)
        reporter.phase("scenario \(workload.name) with \(strategy.rawValue) (\(files.count) files)")
        let mount = try FuseMount(source: backing, mountpoint: mnt, options: workload.server, dir: scratch.path,
                                  executable: executable, strategy: strategy)
        defer { mount.unmount() }
        let probe = Probe(mount: mount, backing: backing, mnt: mnt, files: files)
        let started = Date()
        let t0 = fbshim_monotonic_ns()
        var figures: [String: Double]
        var inconclusive: String?
        switch hazard.kind {
        case .inodeReuse: (figures, inconclusive) = try probe.inodeReuse()
        case .staleAttributes: figures = try probe.staleAttributes()
        case .resentNonIdempotent: (figures, inconclusive) = try probe.resentNonIdempotent()
        case .ephemeralIds: figures = try probe.ephemeralIds()
        case .openFiles: figures = try probe.openFiles()
        }
        let elapsed = Double(fbshim_monotonic_ns() - t0) / 1e9
        let status = mount.unmount()
        let reports = mount.serverReports()
        if let status, status != 0 {
            throw SupervisorError.failed("the reference server \(mount.server.describe(status)) at unmount. "
                                         + "Its log:\n\(mount.server.logTail())")
        }
        figures = figures.filter { hazard.kind.figures.contains($0.key) }
        let checks = hazard.expect.sorted { $0.key < $1.key }.map { figure, maximum in
            ScenarioCheck(figure: figure, measured: figures[figure] ?? 0, maximum: maximum)
        }
        let empty = OperationResult(count: 0, throughput: .opsPerSecond(0), bandwidth: .bytesPerSecond(0),
                                    latency: .empty, errors: [:])
        var result = RunResult(target: "reference", workload: workload.asRun, startedAt: ISO8601.string(started),
                               measuredSeconds: elapsed, threads: 1, operations: [:], total: empty,
                               timeline: Timeline(bucketMs: 10, completed: [], errors: []), server: reports.first)
        result.strategy = strategy.rawValue
        if reports.count > 1 { result.restartedServers = Array(reports.dropFirst()) }
        result.scenario = ScenarioResult(hazard: hazard.kind.rawValue, expectation: hazard.expectation,
                                         checks: checks, figures: figures, inconclusive: inconclusive)
        return result
    }

    /// Creates `count` stamped files under `root/h/dNN/`; returns their
    /// paths relative to `root`.
    static func makeFiles(_ root: String, count: Int) throws -> [String] {
        let perDir = 100
        var paths: [String] = []
        for i in 0..<count {
            let dir = String(format: "h/d%03d", i / perDir)
            if i % perDir == 0 { try FileManager.default.createDirectory(atPath: "\(root)/\(dir)", withIntermediateDirectories: true) }
            let rel = String(format: "%@/f%05d", dir, i)
            guard FileManager.default.createFile(atPath: "\(root)/\(rel)", contents: Data(stamp("file \(i)"))) else {
                throw SupervisorError.failed("cannot create \(root)/\(rel)")
            }
            paths.append(rel)
        }
        return paths
    }

    /// A 4 KiB file body whose first line names it.
    static func stamp(_ id: String) -> [UInt8] {
        var b = Array("fusebench-hazard \(id)\n".utf8)
        b += [UInt8](repeating: UInt8(ascii: "."), count: 4096 - b.count)
        return b
    }

    /// The name in a file body's first line, or nil.
    static func identity(_ bytes: ArraySlice<UInt8>) -> String? {
        guard let nl = bytes.firstIndex(of: 10) else { return nil }
        let line = String(decoding: bytes[bytes.startIndex..<nl], as: UTF8.self)
        guard line.hasPrefix("fusebench-hazard ") else { return nil }
        return String(line.dropFirst("fusebench-hazard ".count))
    }
}

/// Reads a file's identity through a path: the name, or the errno.
enum Reading: Equatable {
    case name(String?)
    case error(Int32)
}

/// The probes, on one mount.
final class Probe: @unchecked Sendable {
    let mount: FuseMount
    let backing: String
    let mnt: String
    let files: [String]

    init(mount: FuseMount, backing: String, mnt: String, files: [String]) {
        self.mount = mount
        self.backing = backing
        self.mnt = mnt
        self.files = files
    }

    // MARK: - Steps

    /// Runs `body` on a thread; if it takes longer than the watchdog
    /// allows, aborts the connection (which ends it) and throws.
    func guarded<T>(_ what: String, _ body: @escaping () -> T) throws -> T {
        try finish(what, Background(body))
    }

    /// Waits for `task` under the watchdog (see `guarded`).
    func finish<T>(_ what: String, _ task: Background<T>) throws -> T {
        if let v = task.wait(seconds: RunCoordinator.watchdogSeconds) { return v }
        mount.abortConnection()
        _ = task.wait(seconds: 10)
        throw SupervisorError.watchdog("\(what) made no progress for \(fmtSeconds(RunCoordinator.watchdogSeconds)); "
                                       + "aborted the FUSE connection. Server log:\n\(mount.server.logTail())")
    }

    /// SIGKILL, `outage` while no server runs, restart by the strategy.
    /// Returns the time from the kill to the new server being ready.
    func killAndRestart(during outage: () throws -> Void = {}) throws -> Double {
        try mount.prepareStandby()
        let t0 = fbshim_monotonic_ns()
        mount.server.signal(SIGKILL)
        mount.server.waitForExit()
        try outage()
        try mount.restart()
        return Double(fbshim_monotonic_ns() - t0)
    }

    /// Reads the identity of the file at `path` (open, read, close).
    static func read(_ path: String) -> Reading {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { return .error(errno) }
        defer { close(fd) }
        return read(fd: fd)
    }

    /// Reads the identity at offset 0 of `fd`.
    static func read(fd: Int32) -> Reading {
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = pread(fd, &buf, buf.count, 0)
        if n < 0 { return .error(errno) }
        return .name(HazardRunner.identity(buf[0..<n]))
    }

    func mountPath(_ rel: String) -> String { "\(mnt)/\(rel)" }
    func backingPath(_ rel: String) -> String { "\(backing)/\(rel)" }

    /// Reads every file through the mount (caches its dentry and inode).
    func prime() throws {
        let paths = files.map(mountPath)
        let failed = try guarded("priming") { paths.filter { !Probe.ok($0) } }
        if let f = failed.first { throw SupervisorError.failed("priming: reading \(f) through the mount failed") }
    }

    private static func ok(_ path: String) -> Bool {
        if case .name(let n?) = read(path), n.hasPrefix("file ") { return true }
        return false
    }

    /// Sum of one counter over every server instance so far.
    func serverTotal(_ f: (ServerReport) -> UInt64) -> Double {
        Double(mount.serverReports().map(f).reduce(0, +))
    }

    // MARK: - Probes

    /// The backing file system changes behind the dead server's back: half
    /// the files are deleted and as many new ones created, which reuses
    /// their inode numbers. After the restart every old path is read: a
    /// deleted file must be gone (ENOENT, ESTALE), a survivor must read as
    /// itself, and no read may return another file's data.
    func inodeReuse() throws -> ([String: Double], String?) {
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
                FileManager.default.createFile(atPath: backingPath(name), contents: Data(HazardRunner.stamp("foreign \(j)")))
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
        let figures: [String: Double] = [
            "outageNs": outage, "filesProbed": Double(files.count), "filesReplaced": Double(doomed.count),
            "inodesReused": Double(reused), "wrongDataReads": Double(wrong), "survivorErrors": Double(survivorErrors),
            "deletedStillReadable": Double(deletedReadable),
        ]
        return (figures, reused == 0 ? "no inode number was reused during the outage, so nothing was at stake" : nil)
    }

    /// Every file's size, mode and mtime change during the outage, while the
    /// kernel holds their attributes with long timeouts. After the restart,
    /// stat through the mount must agree with the backing file.
    func staleAttributes() throws -> [String: Double] {
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
        return ["outageNs": outage, "filesProbed": Double(files.count), "staleAttributes": Double(stale),
                "staleSize": Double(size), "staleMode": Double(mode), "staleMtime": Double(mtime),
                "statErrors": Double(errors)]
    }

    /// create, mkdir, unlink and rename, each with the server armed to crash
    /// after doing the work and before replying: the kernel resends the
    /// request to the next server. The application must see success and
    /// the effect must be there, once.
    func resentNonIdempotent() throws -> ([String: Double], String?) {
        let dir = "h/ops"
        let ops: [(opcode: Opcode, setup: () -> Void, call: () -> Int32, effect: () -> Bool)] = [
            (.create, {}, { [self] in
                let fd = open(mountPath("\(dir)/created"), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o644)
                if fd < 0 { return errno }
                close(fd)
                return 0
            }, { [self] in access(backingPath("\(dir)/created"), F_OK) == 0 }),
            (.mkdir, {}, { [self] in mkdir(mountPath("\(dir)/made"), 0o755) == 0 ? 0 : errno },
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
            try guarded("setting up \(op.opcode.name)") { op.setup() }
            try mount.prepareStandby()
            let server = mount.server
            mount.stats.armCrash(op.opcode, phase: .after)
            let call = Background(op.call)
            let deadline = Date().addingTimeInterval(5)
            while server.poll() == nil && Date() < deadline { usleep(200) }
            if server.poll() != nil {
                fired += 1
                let t0 = mount.stats.crashNs != 0 ? mount.stats.crashNs : fbshim_monotonic_ns()
                try mount.restart()
                outages.append(Double(fbshim_monotonic_ns() - t0))
            } else {
                mount.stats.disarm()
            }
            if try finish("\(op.opcode.name) resent after the crash", call) != 0 { spurious += 1 }
            if !op.effect() { missing += 1 }
        }
        let figures: [String: Double] = [
            "outageNs": Statistics.median(outages) ?? 0, "operations": Double(ops.count), "crashesFired": Double(fired),
            "spuriousErrors": Double(spurious), "missingEffects": Double(missing),
            "resentRequests": serverTotal(\.resentRequests), "resentRecognised": serverTotal(\.resentRecognised),
            "resentAnomalies": serverTotal(\.resentAnomalies),
        ]
        return (figures, fired < ops.count ? "only \(fired) of \(ops.count) armed crashes fired" : nil)
    }

    /// Every file is stat'ed and read before the crash, so that the kernel
    /// caches its node id, and again after the restart: the new server must
    /// know every id the kernel still uses.
    func ephemeralIds() throws -> [String: Double] {
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
        return ["outageNs": outage, "filesProbed": Double(files.count),
                "unknownNodeIds": Double(mount.stats.report().unknownNodeIds),
                "applicationErrors": Double(errors), "wrongDataReads": Double(wrong)]
    }

    /// Descriptors opened before the crash (read-only, read-write, and
    /// read-write files unlinked while open) are read and written after it.
    func openFiles() throws -> [String: Double] {
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
            "outageNs": outage, "descriptors": Double(held.count), "unlinkedWhileOpen": Double(unlinked.count),
            "failedReads": Double(outcomes.filter(\.readFailed).count),
            "failedWrites": Double(outcomes.filter(\.writeFailed).count),
            "wrongDataReads": Double(outcomes.filter(\.wrong).count),
            "lostUnlinked": Double(zip(held, outcomes).filter { $0.0.unlinked && $0.1.readFailed }.count),
        ]
    }
}

/// A body running on a thread of its own, whose value is awaited with a
/// time limit (a call into a FUSE mount can block until the connection is
/// aborted).
final class Background<T>: @unchecked Sendable {
    private var value: T?
    private let done = DispatchSemaphore(value: 0)

    /// Starts `body`.
    init(_ body: @escaping () -> T) {
        let run = UnsafeSendable(body)
        Thread.detachNewThread { [self] in
            value = run.value()
            done.signal()
        }
    }

    /// The value, or nil when it is not there within `seconds`.
    func wait(seconds: Double) -> T? {
        guard done.wait(timeout: .now() + seconds) == .success else { return nil }
        done.signal()
        return value
    }
}

/// Carries a non-Sendable value to the one thread that uses it.
struct UnsafeSendable<V>: @unchecked Sendable {
    let value: V
    init(_ value: V) { self.value = value }
}
