// A mount owned by the harness. The harness opens /dev/fuse, mounts it with
// mount(2) and hands the descriptor to a reference server process, which
// serves it through libfuse's custom I/O. When a restart strategy keeps the
// connection, the harness also keeps its copy of the descriptor (it is the
// keeper): the mount survives the server's death, and the next server
// resumes it. Otherwise the descriptor dies with the server, and a restart
// is a lazy unmount and a fresh mount.
//
// Pitfall (FUSE-RESTART.md): nothing touches the mount before the server
// has answered FUSE_INIT, or the caller blocks in D state. The server tells
// us through the ready pipe; until then we only wait on that pipe.
import Workload
import CFuseShim
import Foundation
import Contract
import FuseServer
import Glibc
import ResultModel
import Synchronization

/// A harness-owned FUSE mount and the server instance behind it.
/// Unchecked Sendable: what other threads read while a restart may be
/// under way (server, stats, instance, stats paths) is behind `current`'s
/// lock; the rest of the restart state (kept descriptor, standby, keeper
/// socket) is touched only by the thread that owns the mount at the time:
/// the run thread before the load and after the fault thread ended, the
/// fault thread in between.
public final class FuseMount: @unchecked Sendable {
    /// Where it is mounted.
    public let mountpoint: String
    /// The backing directory.
    public let source: String
    /// The current server, its statistics and the stats files of every
    /// instance so far: replaced by the fault thread at a restart while the
    /// harness's other threads read them, so behind a lock.
    private struct Current {
        var server: ServerProcess
        var stats: StatsRegion
        var instance: UInt32
        var statsPaths: [String]
    }
    private let current = Mutex(Current(server: .placeholder, stats: StatsRegion(), instance: 1, statsPaths: []))
    /// The current server process.
    public var server: ServerProcess { current.withLock { $0.server } }
    /// The current server's statistics, mapped for reading and arming faults.
    public var stats: StatsRegion { current.withLock { $0.stats } }
    /// The current instance number (1 for the first server).
    public var instance: UInt32 { current.withLock { $0.instance } }
    /// Stats files of every instance so far, in order.
    public var statsPaths: [String] { current.withLock { $0.statsPaths } }
    /// The restart strategy (nil: restarts are not expected).
    public let strategy: Strategy?

    private let options: ServerOptions
    private let executable: String
    private let spawner: Spawner
    private let dir: String
    private var keptFd: Int32 = -1
    private var mounted = false
    /// The open-file table, for strategies that keep it (handover-state).
    private let keeper: StateKeeper?
    /// Our end of the current server's keeper socket (-1: none).
    private var stateSock: Int32 = -1

    /// Seconds to wait for a server's ready signal ($FUSEBENCH_READY_TIMEOUT overrides).
    public static var readyTimeout: Double {
        Settings.readyTimeout
    }

    /// Mounts `source` at `mountpoint` and starts the first server. Stats
    /// files, the server log, the saved INIT and the journal go to `dir`.
    public init(source: String, mountpoint: String, options: ServerOptions, dir: String, executable: String,
                strategy: Strategy? = nil) throws {
        self.source = source
        self.mountpoint = mountpoint
        self.options = options
        self.dir = dir
        self.executable = executable
        self.strategy = strategy
        keeper = strategy?.keepsOpenFiles == true ? StateKeeper() : nil
        // Before anything is mounted: the spawner must hold no FUSE files.
        spawner = try Spawner(executable: executable)
        try mountFresh()
    }

    /// Path of the server log (all instances append to it).
    public var logPath: String { "\(dir)/server.log" }
    private var initPath: String { "\(dir)/init-request.bin" }
    private var journalPath: String { "\(dir)/journal" }

    private func mountFresh() throws {
        let dev = HostCheck.devicePath
        let fd = open(dev, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else {
            throw SupervisorError.environment("cannot open \(dev): \(String(cString: strerror(errno)))")
        }
        defer { if keptFd != fd { close(fd) } }
        guard fbshim_mount_fuse(fd, mountpoint, "fusebench", "fusebench", "") == 0 else {
            throw SupervisorError.environment("mount(2) of a FUSE file system on \(mountpoint) failed: "
                                              + "\(String(cString: strerror(errno)))")
        }
        mounted = true
        try start(fd: fd)
        if strategy?.keepsConnection == true {
            keptFd = fd
            // The connection's INIT request, for the servers that resume it.
            guard let initBytes = stats.savedInitRequest else {
                throw SupervisorError.failed("the server did not save the connection's FUSE_INIT request")
            }
            FileManager.default.createFile(atPath: initPath, contents: Data(initBytes))
        }
    }

    /// A server process started but not yet serving.
    private struct Pending {
        let process: ServerProcess
        let instance: UInt32
        let statsPath: String
        let readyFd: Int32
        /// Write end of a warm standby's go pipe (-1 when it serves at once).
        let goFd: Int32
        /// Our end of its keeper socket (-1: none).
        let stateSock: Int32
    }

    /// A warm standby for the next handover (keep strategies with standby).
    private var standby: Pending?
    /// Whether handovers go to a warm standby (set before the first fault).
    public var useStandby = true

    /// Spawns server `instance` on `fd`; as a warm standby it waits for go.
    private func spawn(instance: UInt32, fd: Int32, asStandby: Bool) throws -> Pending {
        let statsPath = "\(dir)/server-stats-\(instance)"
        var ready: [Int32] = [0, 0]
        var go: [Int32] = [-1, -1]
        guard pipe(&ready) == 0, fcntl(ready[0], F_SETFD, FD_CLOEXEC) == 0,
              fcntl(ready[1], F_SETFD, FD_CLOEXEC) == 0,
              !asStandby || (pipe(&go) == 0 && fcntl(go[0], F_SETFD, FD_CLOEXEC) == 0
                             && fcntl(go[1], F_SETFD, FD_CLOEXEC) == 0) else {
            throw SupervisorError.failed("pipe failed: \(String(cString: strerror(errno)))")
        }
        defer {
            close(ready[1])
            if go[0] >= 0 { close(go[0]) }
        }
        var opts = options
        if let forced = strategy?.forcedNodeIds { opts.nodeIds = forced }
        let restart = (strategy ?? .remount).restartOptions(instance: instance, initPath: initPath, journal: journalPath,
                                                            intents: "\(dir)/intents")
        var given: [LaunchSlot: Int32] = [.fuse: fd, .ready: ready[1], .lifeline: Lifeline.readEnd]
        if asStandby { given[.standbyGo] = go[0] }
        var state: (ours: Int32, theirs: Int32) = (-1, -1)
        if let keeper {
            state = try keeper.connect()
            given[.keeper] = state.theirs
        }
        defer { if state.theirs >= 0 { close(state.theirs) } }
        let launch = ServerLaunch(source: source, mountpoint: mountpoint, statsPath: statsPath, options: opts,
                                  restart: restart, standby: asStandby, keeper: keeper != nil)
        let process: ServerProcess
        do {
            process = try spawner.spawn(
                executable: executable,
                arguments: ["serve", "--source", source,
                            "--launch-json", String(decoding: try JSONEncoder().encode(launch), as: UTF8.self),
                            mountpoint],
                descriptors: launch.slots.map { (given[$0]!, $0.rawValue) },
                logPath: logPath)
        } catch {
            close(ready[0])
            if go[1] >= 0 { close(go[1]) }
            if state.ours >= 0 { keeper?.disconnect(state.ours) }
            throw error
        }
        return Pending(process: process, instance: instance, statsPath: statsPath, readyFd: ready[0], goFd: go[1],
                       stateSock: state.ours)
    }

    /// Makes `p` the current server once it has handled INIT.
    private func activate(_ p: Pending) throws {
        defer { close(p.readyFd) }
        if p.goFd >= 0 {
            _ = write(p.goFd, "g", 1)
            close(p.goFd)
        }
        if let keeper, p.stateSock >= 0 {
            // The new server reads the table before it serves a request.
            if p.instance > 1 && stateSock >= 0 { keeper.handOver(from: stateSock, to: p.stateSock) }
            if stateSock >= 0 { keeper.disconnect(stateSock) }
            stateSock = p.stateSock
        }
        current.withLock {
            $0.server = p.process
            $0.instance = p.instance
            $0.statsPaths.append(p.statsPath)
        }
        if let problem = Self.waitReady(p.readyFd, server: p.process) {
            p.process.killAndReap()
            abortConnection()
            throw problem
        }
        do {
            let region = try StatsRegion(path: p.statsPath, create: false, writable: true)
            current.withLock { $0.stats = region }
        } catch {
            throw SupervisorError.failed("cannot map the server's stats file \(p.statsPath): \(errnoText(error.code))")
        }
    }

    /// Spawns server `instance` on `fd` and waits until it has handled INIT.
    private func start(fd: Int32) throws {
        try activate(try spawn(instance: instance, fd: fd, asStandby: false))
    }

    /// Starts the warm standby for the next handover, if the strategy keeps
    /// the connection and standbys are on. Call while the server is healthy.
    public func prepareStandby() throws {
        guard useStandby, standby == nil, strategy?.keepsConnection == true, keptFd >= 0 else { return }
        standby = try spawn(instance: instance + 1, fd: keptFd, asStandby: true)
    }

    /// Whether the next handover goes to a warm standby.
    public var hasStandby: Bool { standby != nil }

    /// Starts the next server after the current one died, as the strategy
    /// says: resume the kept connection (after FUSE_NOTIFY_RESEND, and
    /// FUSE_NOTIFY_INC_EPOCH for handover-epoch), or remount.
    public func restart() throws {
        guard let strategy else { throw SupervisorError.failed("no restart strategy") }
        if strategy.keepsConnection {
            // Before anyone reads: requests the dead server had read go back to the queue.
            guard fbshim_notify_bare(keptFd, 7 /* FUSE_NOTIFY_RESEND */) == 0 else {
                throw SupervisorError.failed("FUSE_NOTIFY_RESEND failed: \(String(cString: strerror(errno)))")
            }
            if strategy == .handoverEpoch && fbshim_notify_bare(keptFd, 8 /* FUSE_NOTIFY_INC_EPOCH */) != 0 {
                throw SupervisorError.failed("FUSE_NOTIFY_INC_EPOCH failed: \(String(cString: strerror(errno)))")
            }
            if let s = standby {
                standby = nil
                try activate(s)
            } else {
                current.withLock { $0.instance += 1 }
                try start(fd: keptFd)
            }
        } else {
            current.withLock { $0.instance += 1 }
            _ = fbshim_umount2(mountpoint, Int32(MNT_DETACH))
            mounted = false
            try mountFresh()
        }
    }

    /// Waits for "ready" on the pipe; returns the error to throw, or nil.
    private static func waitReady(_ fd: Int32, server: ServerProcess) -> SupervisorError? {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let deadline = Date().addingTimeInterval(readyTimeout)
        while Date() < deadline {
            let r = Glibc.poll(&pfd, 1, 100)
            if r < 0 && errno != EINTR { break }
            if fbshim_stop_requested() != 0 { return .interrupted }
            if r > 0 {
                var buf = [UInt8](repeating: 0, count: 16)
                let n = read(fd, &buf, 16)
                if n > 0 { return nil }
                let how = server.wait(timeout: 1).map { server.describe($0) } ?? "closed its ready pipe"
                return .failed("the reference server \(how) before answering FUSE_INIT. Its log:\n\(server.logTail())")
            }
        }
        return .watchdog("the reference server did not answer FUSE_INIT within \(Int(readyTimeout)) s; "
                         + "killed it and aborted the connection. Its log:\n\(server.logTail())")
    }

    /// The FUSE connection number (the minor of the mount's device), read
    /// from mountinfo so that a hung mount is never touched.
    public var connectionId: Int? { Self.connectionId(of: mountpoint) }

    /// The FUSE connection number of the mount at `mountpoint`, if any.
    public static func connectionId(of mountpoint: String) -> Int? {
        let info = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        for line in info.split(separator: "\n") {
            let f = line.split(separator: " ")
            guard f.count > 4, f[4] == mountpoint else { continue }
            let dev = f[2].split(separator: ":")
            if dev.count == 2, let minor = Int(dev[1]) { return minor }
        }
        return nil
    }

    /// Aborts the connection through fusectl: every waiting caller gets an
    /// error at once. The way out of a hung or unrecoverable server.
    @discardableResult
    public func abortConnection() -> Bool { Self.abortConnection(of: mountpoint) }

    /// Aborts the connection of the FUSE mount at `mountpoint`.
    @discardableResult
    public static func abortConnection(of mountpoint: String) -> Bool {
        guard let id = connectionId(of: mountpoint) else { return false }
        MountNamespace.ensureFusectl()
        let fd = open("/sys/fs/fuse/connections/\(id)/abort", O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return write(fd, "1", 1) == 1
    }

    /// Unmounts, waits for the server to exit, and kills it if it does not.
    /// Returns the server's wait status.
    @discardableResult
    public func unmount(timeout: Double = 10) -> Int32? {
        if mounted {
            Self.unmountOrDetach(mountpoint)
            mounted = false
        }
        if keptFd >= 0 {
            close(keptFd)
            keptFd = -1
        }
        if let s = standby {
            // Never served: EOF on its go pipe lets it start, find the
            // connection gone, and exit; kill it to be sure.
            close(s.goFd)
            close(s.readyFd)
            s.process.killAndReap()
            standby = nil
        }
        defer { keeper?.closeAll() }
        return server.waitOrKill(timeout: timeout)
    }

    /// Unmounts the FUSE mount at `mountpoint`; when that fails (busy, or a
    /// server that does not answer), aborts its connection and detaches it.
    static func unmountOrDetach(_ mountpoint: String) {
        if fbshim_umount2(mountpoint, 0) != 0 {
            abortConnection(of: mountpoint)
            _ = fbshim_umount2(mountpoint, Int32(MNT_DETACH))
        }
    }

    /// Reports of every server instance (valid even after they died).
    /// Waits until the current server has answered no request for 30 ms
    /// (at most 1 s): requests a finished load caused, such as the RELEASE
    /// that follows close(2), have then arrived.
    public func waitQuiet() {
        var last = stats.requests
        var quietSince = fbshim_monotonic_ns()
        let deadline = quietSince + 1_000_000_000
        while fbshim_monotonic_ns() < deadline {
            usleep(5_000)
            let n = stats.requests
            if n != last {
                last = n
                quietSince = fbshim_monotonic_ns()
            } else if fbshim_monotonic_ns() - quietSince >= 30_000_000 {
                return
            }
        }
    }

    public func serverReports() -> [ServerReport] {
        statsPaths.compactMap { path in (try? StatsRegion(path: path, create: false))?.report() }
    }

    /// The first server's report.
    public func serverReport() -> ServerReport? { serverReports().first }

    deinit { unmount(timeout: 5) }
}
