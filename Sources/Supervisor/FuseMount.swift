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
/// under way (server, stats, instance, stats paths) is in `current`, a
/// ServerInstances behind its own lock; the rest of the restart state (kept descriptor, standby, keeper
/// socket) is touched only by the thread that owns the mount at the time:
/// the run thread before the load and after the fault thread ended, the
/// fault thread in between.
public final class FuseMount: @unchecked Sendable {
    /// Where it is mounted.
    public let mountpoint: String
    /// The backing directory.
    public let source: String
    /// The current server, its statistics and every instance's stats file.
    private let current = ServerInstances()
    /// The current server process.
    public var server: ServerProcess { current.server }
    /// The current server's statistics, mapped for reading and arming faults.
    public var stats: StatsRegion { current.stats }
    /// The current instance number (1 for the first server).
    public var instance: UInt32 { current.instance }
    /// Stats files of every instance so far, in order.
    public var statsPaths: [String] { current.statsPaths }
    /// The restart strategy (nil: restarts are not expected).
    public let strategy: Strategy?

    /// Starts the server instances.
    private let launcher: ServerLauncher
    private var keptFd: Int32 = -1
    private var mounted = false
    /// The open-file table, for strategies that keep it (handover-state).
    private var keeper: StateKeeper? { launcher.keeper }
    /// Our end of the current server's keeper socket (-1: none).
    private var stateSock: Int32 = -1

    /// Mounts `source` at `mountpoint` and starts the first server. Stats
    /// files, the server log, the saved INIT and the journal go to `dir`.
    public init(source: String, mountpoint: String, options: ServerOptions, dir: String, executable: String,
                strategy: Strategy? = nil) throws {
        self.source = source
        self.mountpoint = mountpoint
        self.strategy = strategy
        launcher = try ServerLauncher(source: source, mountpoint: mountpoint, options: options, strategy: strategy,
                                      executable: executable, dir: dir)
        try mountFresh()
    }

    /// Path of the server log (all instances append to it).
    public var logPath: String { launcher.logPath }
    private var initPath: String { launcher.initPath }

    private func mountFresh() throws {
        let dev = HostCheck.devicePath
        let fd = open(dev, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else {
            throw SupervisorError.environment("cannot open \(dev): \(String(cString: strerror(errno)))")
        }
        defer { if keptFd != fd { close(fd) } }
        guard fbshim_mount_fuse(fd, mountpoint, "fusebench", "fusebench", launcher.options.mountOptionString) == 0 else {
            let e = errno
            if e == EINVAL && !launcher.options.mountOptions.isEmpty {
                throw SupervisorError.input("mount(2) refused the mount options \(launcher.options.mountOptionString) "
                                            + "(EINVAL): the kernel's FUSE mount takes allow_other, "
                                            + "default_permissions, max_read=N and blksize=N")
            }
            throw SupervisorError.environment("mount(2) of a FUSE file system on \(mountpoint) failed: "
                                              + "\(String(cString: strerror(e)))")
        }
        mounted = true
        try start(fd: fd)
        if strategy?.keepsConnection == true {
            keptFd = fd
            // The connection's INIT request, for the servers that resume it.
            guard let initBytes = stats.savedInitRequest else {
                throw SupervisorError.failed("the server did not save the connection's FUSE_INIT request")
            }
            try saveInitRequest(initBytes, to: initPath)
        }
    }

    /// A warm standby for the next handover (keep strategies with standby).
    private var standby: PendingServer?
    /// Whether handovers go to a warm standby (set before the first fault).
    public var useStandby = true

    /// Whether server `p` is a warm standby that waits at a gate.
    private func isGated(_ p: PendingServer) -> Bool { p.goFd >= 0 && !launcher.options.ioUring }

    /// Whether it is let go with its threads on the harness's CPU.
    private func pinsAtGo(_ p: PendingServer) -> Bool { isGated(p) && Settings.dyingCPU != "stay" }

    /// Makes `p` the current server once it has handled INIT. A warm
    /// standby handles the saved INIT as soon as it starts and waits at its
    /// gate: it gets its go at once, and is current once through the gate.
    /// `pinnedOn`: the CPU the caller already pinned `p`'s threads to (at
    /// the death notice, off the handover's path), or nil; `readyStats`:
    /// its statistics, if the caller already waited for its ready (also
    /// off the handover's path: after the go, the standby wakes on this
    /// CPU, and this thread should be asleep by then).
    /// `awaitsGate`: false to return once it is let go, its threads still
    /// pinned: the caller waits for its gate (`awaitGate`) and unpins it.
    /// Returns its statistics.
    @discardableResult
    private func activate(_ p: PendingServer, pinnedOn: Int32? = nil, readyStats: StatsRegion? = nil,
                          awaitsGate: Bool = true) throws -> StatsRegion {
        // A gated standby's ready pipe stays open for its gate (awaitGate).
        var closesReady = !isGated(p)
        defer { if closesReady { close(p.readyFd) } }
        let pinned = pinsAtGo(p)
        // Pinned again only if this thread has moved to another CPU since.
        if pinned && pinnedOn != fbshim_current_cpu() { p.process.pinToCallerCPU() }
        var unpins = pinned
        defer { if unpins { p.process.unpin() } }
        if p.goFd >= 0 {
            lastHandover.goNs = fbshim_monotonic_ns()
            _ = write(p.goFd, "g", 1)
            close(p.goFd)
        }
        if let keeper, p.stateSock >= 0 {
            // The new server reads the table before it serves a request.
            if p.instance > 1 && stateSock >= 0 { keeper.handOver(from: stateSock, to: p.stateSock) }
            if stateSock >= 0 { keeper.disconnect(stateSock) }
            stateSock = p.stateSock
        }
        current.started(p.process, instance: p.instance, statsPath: p.statsPath)
        // Ready long before, as a rule: a standby is started a measurement
        // window before the fault it serves.
        let ready: StatsRegion
        do {
            ready = try readyStats ?? awaitReady(p)
        } catch {
            closesReady = true
            throw error
        }
        current.mapped(ready)
        guard awaitsGate else {
            unpins = false
            return ready
        }
        try awaitGate(p, ready)
        return ready
    }

    /// Waits until a gated standby `p` (statistics `ready`) is through its
    /// gate, once let go: serving, what it does there (the open files of
    /// handover-state, the eager storm) done; closes its ready pipe. Asleep
    /// on that pipe, to which the standby writes a byte once through: the
    /// standby, pinned to this CPU, runs at once, and wakes this thread
    /// itself. (Yielding this CPU instead, the harness had the gate 113 to
    /// 174 us after the go, medians of three runs, against 29 to 34 us.)
    private func awaitGate(_ p: PendingServer, _ ready: StatsRegion) throws {
        guard isGated(p) else { return }
        defer { close(p.readyFd) }
        let deadline = fbshim_monotonic_ns() + UInt64(Settings.readyTimeout * 1e9)
        var open = true
        while ready.goNs == 0 {
            let r = p.process.waitReadable(open ? p.readyFd : -1, orExitWithin: 50_000_000)
            if r & 1 != 0 {
                var b = [UInt8](repeating: 0, count: 16)
                if read(p.readyFd, &b, b.count) == 0 { open = false }
            }
            if r & 2 != 0 || (!open && ready.goNs == 0 && p.process.hasExited) {
                throw SupervisorError.failed("the standby server \(p.process.describe(p.process.poll() ?? -1)) "
                                             + "at its go. Its log:\n\(p.process.logTail())")
            }
            if fbshim_monotonic_ns() > deadline {
                p.process.killAndReap()
                abortConnection()
                throw SupervisorError.watchdog("the standby server did not start serving within "
                                               + "\(Int(Settings.readyTimeout)) s of its go; killed it and "
                                               + "aborted the connection. Its log:\n\(p.process.logTail())")
            }
        }
    }

    /// Waits until `p` has handled INIT; maps its statistics.
    private func awaitReady(_ p: PendingServer) throws -> StatsRegion {
        if let problem = ServerLauncher.waitReady(p.readyFd, server: p.process) {
            p.process.killAndReap()
            abortConnection()
            throw problem
        }
        do {
            return try StatsRegion(path: p.statsPath, create: false, writable: true)
        } catch {
            throw SupervisorError.failed("cannot map the server's stats file \(p.statsPath): \(errnoText(error.code))")
        }
    }

    /// Spawns server `instance` on `fd` and waits until it has handled INIT.
    private func start(fd: Int32) throws {
        try activate(try launcher.spawn(instance: instance, fd: fd, asStandby: false))
    }

    /// Starts the warm standby for the next handover, if the strategy keeps
    /// the connection and standbys are on. Call while the server is healthy.
    public func prepareStandby() throws {
        guard useStandby, standby == nil, strategy?.keepsConnection == true, keptFd >= 0 else { return }
        // It handles the saved INIT at once, and then waits at its gate; the
        // harness hears its "ready" at the handover (not waiting here keeps
        // the fault schedule).
        standby = try launcher.spawn(instance: instance + 1, fd: keptFd, asStandby: true)
    }

    /// The gated standby's ready and pin, taken before the handover.
    private var prepared: (pinnedOn: Int32?, stats: StatsRegion)?

    /// Takes the gated standby's "ready" and maps its statistics, and pins
    /// its threads to this CPU, which is awake, to be let go from here (a
    /// few dozen microseconds of sched_setaffinity, and more when a thread
    /// is queued on a CPU busy with a dying process): before a fault the
    /// harness causes, or at the death notice, never between the death and
    /// the go. Nothing without a gated standby, or when done already; nor,
    /// before a fault, for a standby still starting: the fault schedule
    /// does not wait for it (the restart does, after the death).
    public func prepareHandover() throws { try prepare(waiting: false) }

    private func prepare(waiting: Bool) throws {
        guard prepared == nil, let s = standby, isGated(s) else { return }
        if !waiting {
            // Its "ready" there to read; a standby that failed (its pipe
            // closed, nothing written) is the restart's to handle.
            var pfd = pollfd(fd: s.readyFd, events: Int16(POLLIN), revents: 0)
            guard Glibc.poll(&pfd, 1, 0) > 0, pfd.revents & Int16(POLLIN) != 0 else { return }
        }
        var pinnedOn: Int32?
        if pinsAtGo(s) {
            pinnedOn = fbshim_current_cpu()
            s.process.pinToCallerCPU()
        }
        prepared = (pinnedOn, try awaitReady(s))
    }

    /// When the last handover sent FUSE_NOTIFY_RESEND and let its server go.
    public private(set) var lastHandover = HandoverMarks()

    /// Whether the next handover goes to a warm standby.
    public var hasStandby: Bool { standby != nil }

    /// Starts the next server after the current one died, as the strategy
    /// says: resume the kept connection (after FUSE_NOTIFY_RESEND, and
    /// FUSE_NOTIFY_INC_EPOCH for handover-epoch), or remount.
    public func restart() throws {
        guard let strategy else { throw SupervisorError.failed("no restart strategy") }
        if strategy.keepsConnection {
            let dead = server
            let deadStats = stats
            // No thread of the dead server starts a read from now on: one
            // found serving what it read is out at once, however long its
            // work keeps it in the kernel (an FSYNC, a crash handler).
            fbshim_stop_readers(deadStats.region)
            try prepare(waiting: true)
            let ready = prepared
            prepared = nil
            var goesNow: (server: PendingServer, stats: StatsRegion)?
            lastHandover = HandoverMarks()
            let spinUntil = fbshim_monotonic_ns() + Settings.handoverSpinNs
            if ready != nil, let s = standby, strategy.standbyGoesAtDeathNotice && Settings.standbyGo != "resend" {
                // Let go at the notice: it serves what comes in from now on
                // while the dead server's threads leave (it stays on this CPU
                // until the resend, away from theirs). Only the requests
                // they had read wait for the resend below, which also
                // resends what the standby has read by then and not yet
                // answered (FUSE_NOTIFY_RESEND requeues every processing
                // queue of the connection): those are served twice, as
                // requests resent after any death may be (the intent log).
                standby = nil
                goesNow = (s, try activate(s, pinnedOn: ready?.pinnedOn, readyStats: ready?.stats,
                                           awaitsGate: false))
            }
            // Once no thread of the dead server can take a request any more
            // (long before its exit: tearing down its memory and descriptors
            // takes milliseconds): requests the dead server had read go back
            // to the queue. A standby let go is awaited at its gate first
            // (asleep, which leaves it this CPU) unless one look finds the
            // dead server's threads out already: then the resend goes at
            // once, and its requests are there when the standby is through.
            let outAtOnce = goesNow != nil && dead.noThreadReadsDevice(stats: deadStats)
            if !outAtOnce {
                if let g = goesNow { try awaitGate(g.server, g.stats) }
                dead.waitUntilNoThreadReadsDevice(stats: deadStats, spinUntil: spinUntil)
            }
            lastHandover.threadsOutNs = fbshim_monotonic_ns()
            if Settings.testResendDelayMs > 0 { usleep(Settings.testResendDelayMs * 1000) }
            // The standby's readers share this CPU until now, and the write
            // wakes them.
            lastHandover.resendNs = try notifyResend(keptFd, incrementEpoch: strategy.incrementsEpoch)
            if let g = goesNow {
                if outAtOnce { try awaitGate(g.server, g.stats) }
                // Kept on this CPU until now, off the one where the dead
                // server's threads leave.
                if pinsAtGo(g.server) { g.server.process.unpin() }
                return
            }
            if let s = standby {
                standby = nil
                try activate(s, pinnedOn: ready?.pinnedOn, readyStats: ready?.stats)
            } else {
                current.advance()
                try start(fd: keptFd)
            }
        } else {
            // The dead server's connection ends with its last descriptor.
            server.waitForExit()
            current.advance()
            _ = fbshim_umount2(mountpoint, Int32(MNT_DETACH))
            mounted = false
            try mountFresh()
        }
    }

    /// The FUSE connection number (the minor of the mount's device).
    public var connectionId: Int? { FuseConnection.id(of: mountpoint) }

    /// Aborts the connection through fusectl: every waiting caller gets an
    /// error at once. The way out of a hung or unrecoverable server.
    @discardableResult
    public func abortConnection() -> Bool { FuseConnection.abort(of: mountpoint) }

    /// Unmounts, waits for the server to exit, and kills it if it does not.
    /// Returns the server's wait status.
    @discardableResult
    public func unmount(timeout: Double = 10) -> Int32? {
        if mounted {
            FuseConnection.unmountOrDetach(mountpoint)
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
            prepared = nil
        }
        defer { keeper?.closeAll() }
        return server.waitOrKill(timeout: timeout)
    }

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

    /// Reports of every server instance (valid even after they died).
    public func serverReports() -> [ServerReport] { current.reports() }

    /// The first server's report.
    public func serverReport() -> ServerReport? { serverReports().first }

    deinit { unmount(timeout: 5) }
}

/// Writes a connection's FUSE_INIT request to `path`, where the servers
/// that resume the connection read it.
func saveInitRequest(_ bytes: [UInt8], to path: String) throws {
    guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
        throw SupervisorError.failed("cannot write the connection's FUSE_INIT request to \(path), "
                                     + "which the next server resumes from: \(String(cString: strerror(errno)))")
    }
}
