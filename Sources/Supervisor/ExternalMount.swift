// Another FUSE server, given as a command template, mounted over the same
// backing directory so that the same workloads measure it: libfuse's
// passthrough_ll, or a user's own server.
//
// Without a strategy, or with remount, the server mounts itself (it must
// stay in the foreground); the harness waits for the mount to appear in its
// mount namespace, and unmounts it at the end, which ends the server's
// session loop. A remount after a fault detaches the dead mount and runs the
// command again. With a handover strategy the harness mounts, keeps the
// /dev/fuse descriptor and hands it to each instance as /dev/fd/3 (libfuse
// 3.3 and later take that as the mountpoint); the preload shim
// (Sources/Preload) replays the saved FUSE_INIT to a resuming instance.
// Runs with faults load the shim into the server for its statistics and
// fault hooks. Servers are started through the spawner under `setpriv
// --pdeathsig KILL`: when the harness dies, the spawner follows it
// (lifeline) and the kernel kills the server.
import Workload
import CFuseShim
import Foundation
import Contract
import FuseServer
import Glibc
import Synchronization
import ResultModel

/// A named server command template.
public struct PeerServer: Sendable, Equatable {
    /// Name in results ("passthrough_ll").
    public var name: String
    /// Command with placeholders: {source}, {mountpoint}, {threads} (the
    /// workload's server threads), {timeout} (its attrTimeout, seconds),
    /// {cache} ("always" with keepCache, else "auto"), {instance} (1 for
    /// the first server, then 2, 3 after restarts), {state} (a directory
    /// that outlives the servers of one connection: README, "Resuming a
    /// connection"), {keeper} (the keeper socket's descriptor number with
    /// handover-state, else -1).
    public var template: String

    /// Parses "NAME=TEMPLATE", or a bare template named after its program.
    public init(_ spec: String) throws {
        let trimmed = spec.trimmingCharacters(in: .whitespaces)
        if let eq = trimmed.firstIndex(of: "="), !trimmed[..<eq].contains(" "), !trimmed[..<eq].contains("/") {
            name = String(trimmed[..<eq])
            template = String(trimmed[trimmed.index(after: eq)...])
        } else {
            template = trimmed
            let program = trimmed.split(separator: " ").first.map(String.init) ?? ""
            name = (program as NSString).lastPathComponent
        }
        guard !name.isEmpty, !template.isEmpty else {
            throw SupervisorError.input("--server/--peer: give a command such as 'passthrough_ll -f -o source={source} {mountpoint}'")
        }
        guard template.contains("{mountpoint}") else {
            throw SupervisorError.input("--server/--peer \(name): the command must contain {mountpoint} (and usually {source})")
        }
    }

    /// The command for one run.
    func command(source: String, mountpoint: String, options: ServerOptions, instance: UInt32 = 1,
                 state: String = "", keeper: Bool = false) -> String {
        template.replacingOccurrences(of: "{source}", with: source)
            .replacingOccurrences(of: "{mountpoint}", with: mountpoint)
            .replacingOccurrences(of: "{threads}", with: String(options.threads))
            .replacingOccurrences(of: "{timeout}", with: String(format: "%g", options.attrTimeout))
            .replacingOccurrences(of: "{cache}", with: options.keepCache ? "always" : "auto")
            .replacingOccurrences(of: "{instance}", with: String(instance))
            .replacingOccurrences(of: "{state}", with: state)
            .replacingOccurrences(of: "{keeper}", with: keeper ? String(ExternalMount.keeperFd) : "-1")
    }
}

/// A mount served by an external server process.
/// Unchecked Sendable: the current server and stats are behind `current`'s
/// lock (the fault thread replaces them at a restart); the kept descriptor
/// is touched by the thread that owns the mount at the time (as FuseMount).
public final class ExternalMount: @unchecked Sendable {
    /// The mountpoint.
    public let mountpoint: String
    /// The command line of the first instance.
    public let command: String
    /// The server's name, from its command template.
    public let serverName: String
    /// The restart strategy (nil: no faults).
    public let strategy: Strategy?
    private let peer: PeerServer
    private let source: String
    private let options: ServerOptions
    private let dir: String
    private let spawner: Spawner
    /// The preload shim, for runs with a strategy (nil: not loaded).
    private let preload: String?
    /// The directory {state} names: what a server keeps for the next
    /// instance on the same connection (emptied when a remount starts a
    /// new connection); the harness puts the saved INIT in it.
    private let stateDir: String
    private let mounted = Atomic<Bool>(true)
    private var keptFd: Int32 = -1
    /// The open-file table (handover-state), and our end of the current
    /// instance's keeper socket.
    private let keeper: StateKeeper?
    private var keeperSock: Int32 = -1
    /// The current server, its statistics and every instance's stats file.
    private let current = ServerInstances()
    /// The server process serving now.
    public var server: ServerProcess { current.server }
    /// The current instance's statistics, as the preload shim writes them
    /// (all zero without the shim).
    public var stats: StatsRegion { current.stats }

    /// The descriptor number a handed-over instance finds /dev/fuse at.
    static let handedFd: Int32 = 3

    /// Strategies another server can be restarted with: the harness keeps
    /// the connection or not, may bump the epoch, and holds open files
    /// for a server that speaks the keeper protocol ({keeper}); the rest
    /// need the reference server's own node ids or journal.
    public static let strategies: [Strategy] = [.remount, .handoverLazy, .handoverEpoch, .handoverState]

    /// The descriptor a handover-state instance finds its keeper socket at.
    static let keeperFd: Int32 = 4

    /// The preload shim: $FUSEBENCH_PRELOAD, or beside `executable`, or
    /// in .build/preload/ where the Makefile builds it.
    public static func preloadLibrary(executable: String) -> String {
        if let p = ProcessInfo.processInfo.environment["FUSEBENCH_PRELOAD"], !p.isEmpty { return p }
        let dir = (executable as NSString).deletingLastPathComponent
        let candidates = [dir + "/libfusebench-preload.so", dir + "/../preload/libfusebench-preload.so",
                          dir + "/../../preload/libfusebench-preload.so"]
        return candidates.first { access($0, R_OK) == 0 } ?? candidates[2]
    }

    /// Starts `peer` over `source` at `mountpoint` and waits until it serves.
    public init(peer: PeerServer, source: String, mountpoint: String, options: ServerOptions, dir: String,
                executable: String, strategy: Strategy? = nil) throws {
        if let strategy, !Self.strategies.contains(strategy) {
            throw SupervisorError.input("the strategy \(strategy.rawValue) needs the reference server (its node ids "
                                        + "or journal); \(peer.name) can be restarted with "
                                        + Self.strategies.map(\.rawValue).joined(separator: ", "))
        }
        self.mountpoint = mountpoint
        self.peer = peer
        self.source = source
        self.options = options
        self.dir = dir
        self.strategy = strategy
        serverName = peer.name
        keeper = strategy?.keepsOpenFiles == true ? StateKeeper() : nil
        if strategy != nil {
            let lib = Self.preloadLibrary(executable: executable)
            guard access(lib, R_OK) == 0 else {
                throw SupervisorError.environment("the preload shim \(lib) is missing: `make build` builds it "
                                                  + "(or set FUSEBENCH_PRELOAD to its path)")
            }
            preload = lib
            if strategy!.keepsConnection { try Self.requireLibfuse(peer) }
        } else {
            preload = nil
        }
        stateDir = "\(dir)/server-state"
        command = peer.command(source: source, mountpoint: Self.serverMountpoint(mountpoint, strategy), options: options,
                               state: stateDir, keeper: keeper != nil)
        try? FileManager.default.createDirectory(atPath: stateDir, withIntermediateDirectories: true)
        spawner = try Spawner(executable: executable)
        if strategy?.keepsConnection == true {
            let fd = open(HostCheck.devicePath, O_RDWR | O_CLOEXEC)
            guard fd >= 0 else {
                throw SupervisorError.environment("cannot open \(HostCheck.devicePath): \(String(cString: strerror(errno)))")
            }
            guard fbshim_mount_fuse(fd, mountpoint, peer.name, peer.name, options.mountOptionString) == 0 else {
                let e = errno
                close(fd)
                mounted.store(false, ordering: .relaxed)
                throw SupervisorError.environment("mount(2) of a FUSE file system on \(mountpoint) failed: "
                                                  + "\(String(cString: strerror(e)))")
            }
            keptFd = fd
        }
        do {
            try startInstance()
        } catch {
            if keptFd >= 0 { FuseConnection.unmountOrDetach(mountpoint); close(keptFd); keptFd = -1 }
            mounted.store(false, ordering: .relaxed)
            throw error
        }
    }

    /// What {mountpoint} stands for: the descriptor a handed-over instance
    /// finds the connection at, or the directory a server mounts itself.
    static func serverMountpoint(_ mountpoint: String, _ strategy: Strategy?) -> String {
        strategy?.keepsConnection == true ? "/dev/fd/\(handedFd)" : mountpoint
    }

    /// A handover needs a server on libfuse (3.3 or later), which takes
    /// /dev/fd/N as its mountpoint and reads the device through libc, where
    /// the shim sees it: a dynamically linked program without libfuse is
    /// refused up front (a script is judged when it runs).
    static func requireLibfuse(_ peer: PeerServer) throws {
        guard let program = peer.template.split(separator: " ").first.map(String.init),
              let path = program.contains("/") ? program : Self.which(program),
              let data = FileManager.default.contents(atPath: path), data.starts(with: [0x7f, 0x45, 0x4c, 0x46]) else {
            return
        }
        if data.range(of: Data("libfuse3.so".utf8)) == nil && data.range(of: Data("libfuse.so".utf8)) == nil {
            throw SupervisorError.input("\(peer.name) (\(path)) is not linked with libfuse, so it cannot be handed a "
                                        + "live connection: a handover needs a server on libfuse 3.3 or later (it takes "
                                        + "/dev/fd/N as the mountpoint), or one that resumes natively (README: "
                                        + "\"Resuming a connection\"). Use --strategy remount.")
        }
    }

    static func which(_ program: String) -> String? {
        for d in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let p = "\(d)/\(program)"
            if access(p, X_OK) == 0 { return p }
        }
        return nil
    }

    /// Starts the current instance and waits until it serves: its mount
    /// appears, or (handover) it has answered FUSE_INIT.
    private func startInstance() throws {
        let instance = current.instance
        let statsPath = "\(dir)/server-stats-\(instance)"
        let region: StatsRegion
        do { region = try StatsRegion(path: statsPath, create: true, writable: true) } catch {
            throw SupervisorError.failed("cannot create the stats file \(statsPath): \(errnoText(error.code))")
        }
        region.region.pointee.instance = UInt64(instance)
        let resume = instance > 1 && strategy?.keepsConnection == true
        let instanceCommand = peer.command(source: source, mountpoint: Self.serverMountpoint(mountpoint, strategy),
                                           options: options, instance: instance, state: stateDir,
                                           keeper: keeper != nil)
        if resume {
            guard let bytes = savedInit else {
                throw SupervisorError.failed("no saved FUSE_INIT request to resume the connection with")
            }
            region.saveInitRequest(bytes)
        }
        var env: [String] = []
        if let preload {
            env = ["LD_PRELOAD=\(preload)", "FUSEBENCH_PRELOAD_STATS=\(statsPath)",
                   "FUSEBENCH_PRELOAD_RESUME=\(resume ? 1 : 0)"]
            if keptFd >= 0 { env.append("FUSEBENCH_PRELOAD_FD=\(Self.handedFd)") }
        }
        var descriptors: [(Int32, Int32)] = keptFd >= 0 ? [(keptFd, Self.handedFd)] : []
        var sock: (ours: Int32, theirs: Int32) = (-1, -1)
        if let keeper {
            sock = try keeper.connect()
            descriptors.append((sock.theirs, Self.keeperFd))
        }
        defer { if sock.theirs >= 0 { close(sock.theirs) } }
        let process = try spawner.spawn(executable: "/usr/bin/env",
                                        arguments: env + ["/usr/bin/setpriv", "--pdeathsig", "KILL", "--",
                                                          "/bin/sh", "-c", "exec " + instanceCommand],
                                        descriptors: descriptors, logPath: "\(dir)/server.log")
        if let keeper {
            // The earlier instances' open files, before this one serves
            // (a server of the protocol reads them up to "E" first).
            if keeperSock >= 0 {
                keeper.handOver(from: keeperSock, to: sock.ours)
                keeper.disconnect(keeperSock)
            }
            keeperSock = sock.ours
        }
        current.started(process, statsPath: statsPath, stats: region)
        let deadline = Date().addingTimeInterval(Settings.readyTimeout)
        let what = resume ? "resuming the connection" : keptFd >= 0 ? "answering FUSE_INIT" : "mounting"
        let notDone = resume ? "did not resume the connection" : keptFd >= 0 ? "did not answer FUSE_INIT" : "did not mount"
        while keptFd >= 0 ? region.initNs == 0 : FuseConnection.id(of: mountpoint) == nil {
            if let st = process.poll() {
                var why = "\(peer.name) \(process.describe(st)) before \(what) (command: \(instanceCommand))."
                if keptFd >= 0 && region.shimRequestsSeen == 0 && !resume {
                    why += " It never read the FUSE device it was handed (/dev/fd/\(Self.handedFd)) through libc: a "
                        + "handover needs a server on libfuse 3.3 or later, or one that resumes natively (README: "
                        + "\"Resuming a connection\")."
                }
                throw SupervisorError.failed(why + " Its output:\n\(process.logTail())")
            }
            if Date() > deadline || fbshim_stop_requested() != 0 {
                process.killAndReap()
                if fbshim_stop_requested() != 0 { throw SupervisorError.interrupted }
                throw SupervisorError.watchdog("\(peer.name) \(notDone) \(mountpoint) within "
                                               + "\(Int(Settings.readyTimeout)) s (command: \(instanceCommand); it must run "
                                               + "in the foreground, e.g. -f). Its output:\n\(process.logTail())")
            }
            usleep(1_000)
        }
        if instance == 1 && keptFd >= 0 {
            savedInit = region.savedInitRequest
            guard let bytes = savedInit else {
                throw SupervisorError.failed("the preload shim did not see \(peer.name) read FUSE_INIT")
            }
            // For servers that resume natively (without the shim).
            try saveInitRequest(bytes, to: "\(stateDir)/init-request.bin")
        }
    }

    /// The connection's FUSE_INIT request, as the first instance read it.
    private var savedInit: [UInt8]?

    /// When the last handover sent FUSE_NOTIFY_RESEND.
    public private(set) var lastHandover = HandoverMarks()

    /// No warm standby for another server: each restart starts it anew.
    public func prepareStandby() throws {}
    public func prepareHandover() throws {}

    /// Starts the next instance after the current one died: resume the kept
    /// connection (after FUSE_NOTIFY_RESEND, and FUSE_NOTIFY_INC_EPOCH for
    /// handover-epoch), or detach the dead mount and run the command again.
    public func restart() throws {
        guard let strategy else { throw SupervisorError.failed("no restart strategy") }
        // Another server may read the device in ways the reference server
        // does not (splice, threads of its own): resend only after its exit.
        server.waitForExit()
        lastHandover = HandoverMarks(threadsOutNs: fbshim_monotonic_ns())
        if strategy.keepsConnection {
            lastHandover.resendNs = try notifyResend(keptFd, incrementEpoch: strategy.incrementsEpoch)
        } else {
            _ = fbshim_umount2(mountpoint, Int32(MNT_DETACH))
            // A new connection: nothing of the old one's state applies.
            try? FileManager.default.removeItem(atPath: stateDir)
            try? FileManager.default.createDirectory(atPath: stateDir, withIntermediateDirectories: true)
        }
        current.advance()
        try startInstance()
    }

    /// Reports of every instance, from the shim's stats regions.
    public func serverReports() -> [ServerReport] {
        current.reports()
    }

    /// Aborts the connection (watchdog).
    @discardableResult
    public func abortConnection() -> Bool { FuseConnection.abort(of: mountpoint) }

    /// Unmounts, waits for the server to exit (kills it after `timeout`);
    /// returns its wait status.
    @discardableResult
    public func unmount(timeout: Double = 10) -> Int32? {
        if mounted.exchange(false, ordering: .relaxed) {
            FuseConnection.unmountOrDetach(mountpoint)
        }
        if keptFd >= 0 {
            close(keptFd)
            keptFd = -1
        }
        defer {
            if keeperSock >= 0 { keeper?.disconnect(keeperSock) }
            keeperSock = -1
            keeper?.closeAll()
        }
        return server.waitOrKill(timeout: timeout)
    }

    deinit { unmount(timeout: 5) }
}
