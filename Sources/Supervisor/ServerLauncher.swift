// Starting reference-server instances for a mount: the pipes, the keeper
// socket and the launch description of each (ServerLaunch), through the
// spawner, and waiting for a started server's "ready".
import CFuseShim
import Contract
import Foundation
import Glibc
import Workload

/// A server process started but not yet serving.
struct PendingServer {
    let process: ServerProcess
    let instance: UInt32
    let statsPath: String
    let readyFd: Int32
    /// Write end of a warm standby's go pipe (-1 when it serves at once).
    let goFd: Int32
    /// Our end of its keeper socket (-1: none).
    let stateSock: Int32
}

/// Starts server instances for one mount.
final class ServerLauncher: Sendable {
    let source: String
    let mountpoint: String
    let options: ServerOptions
    let strategy: Strategy?
    let executable: String
    let spawner: Spawner
    let dir: String
    /// The open-file table, for strategies that keep it (handover-state).
    let keeper: StateKeeper?

    init(source: String, mountpoint: String, options: ServerOptions, strategy: Strategy?, executable: String,
         dir: String) throws {
        self.source = source
        self.mountpoint = mountpoint
        self.options = options
        self.strategy = strategy
        self.executable = executable
        self.dir = dir
        keeper = strategy?.keepsOpenFiles == true ? StateKeeper() : nil
        // Before anything is mounted: the spawner must hold no FUSE files.
        spawner = try Spawner(executable: executable)
    }

    /// Path of the server log (all instances append to it).
    var logPath: String { "\(dir)/server.log" }
    /// The connection's saved FUSE_INIT request.
    var initPath: String { "\(dir)/init-request.bin" }
    var journalPath: String { "\(dir)/journal" }

    /// Spawns server `instance` on `fd`; as a warm standby it waits for go.
    func spawn(instance: UInt32, fd: Int32, asStandby: Bool) throws -> PendingServer {
        let statsPath = "\(dir)/server-stats-\(instance)"
        // Close-on-exec pipes, each [read, write].
        var opened: [Int32] = []
        func cloexecPipe() throws -> [Int32] {
            var fds: [Int32] = [-1, -1]
            guard pipe(&fds) == 0 else {
                for fd in opened { close(fd) }
                throw SupervisorError.failed("pipe failed: \(String(cString: strerror(errno)))")
            }
            opened += fds
            for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
            return fds
        }
        let ready = try cloexecPipe(), notice = try cloexecPipe()
        let go = asStandby ? try cloexecPipe() : [-1, -1]
        defer {
            close(ready[1])
            close(notice[1])
            if go[0] >= 0 { close(go[0]) }
        }
        var opts = options
        if let forced = strategy?.forcedNodeIds { opts.nodeIds = forced }
        let restart = (strategy ?? .remount).restartOptions(instance: instance, initPath: initPath, journal: journalPath,
                                                            intents: "\(dir)/intents",
                                                            backingIds: "\(dir)/backing-ids")
        var given: [LaunchSlot: Int32] = [.fuse: fd, .ready: ready[1], .lifeline: Lifeline.readEnd,
                                          .deathNotice: notice[1]]
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
            close(notice[0])
            if go[1] >= 0 { close(go[1]) }
            if state.ours >= 0 { keeper?.disconnect(state.ours) }
            throw error
        }
        process.attachDeathNotice(notice[0])
        return PendingServer(process: process, instance: instance, statsPath: statsPath, readyFd: ready[0], goFd: go[1],
                       stateSock: state.ours)
    }

    /// Waits for "ready" on the pipe; returns the error to throw, or nil.
    static func waitReady(_ fd: Int32, server: ServerProcess) -> SupervisorError? {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let deadline = Date().addingTimeInterval(Settings.readyTimeout)
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
        return .watchdog("the reference server did not answer FUSE_INIT within \(Int(Settings.readyTimeout)) s; "
                         + "killed it and aborted the connection. Its log:\n\(server.logTail())")
    }
}
