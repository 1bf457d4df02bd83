// A FUSE server process started by the harness: spawned with the
// descriptors it needs at fixed numbers, its stderr in a log file, and
// ended only by its pid.
import Foundation
import Glibc

/// A child process.
public final class ServerProcess: @unchecked Sendable {
    /// Its pid.
    public let pid: pid_t
    /// Where its stderr goes.
    public let logPath: String
    private var status: Int32?

    private init(pid: pid_t, logPath: String) {
        self.pid = pid
        self.logPath = logPath
    }

    /// Spawns `executable` with `arguments`; `descriptors` maps our fds to
    /// the numbers the child sees. Everything else is closed on exec.
    public static func spawn(executable: String, arguments: [String], descriptors: [(Int32, Int32)],
                             logPath: String) throws -> ServerProcess {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        // Move sources out of the way of the targets first, so that a
        // source that already sits on a target number cannot be clobbered.
        var moved: [(Int32, Int32)] = []
        for (from, to) in descriptors {
            let high = fcntl(from, F_DUPFD_CLOEXEC, 100)
            if high < 0 { throw SupervisorError.failed("fcntl(F_DUPFD_CLOEXEC) failed: \(String(cString: strerror(errno)))") }
            moved.append((high, to))
        }
        defer { for (high, _) in moved { close(high) } }
        for (high, to) in moved { posix_spawn_file_actions_adddup2(&actions, high, to) }

        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attr, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for s in [SIGINT, SIGTERM, SIGHUP, SIGPIPE] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigdefault(&attr, &defaults)
        // Its own process group: a terminal's Ctrl-C reaches the harness,
        // which then shuts the server down in order.
        posix_spawnattr_setpgroup(&attr, 0)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

        let argv = [executable] + arguments
        var cargs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for p in cargs { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, &attr, &cargs, environ)
        guard rc == 0 else {
            throw SupervisorError.failed("cannot start \(executable): \(String(cString: strerror(rc)))")
        }
        return ServerProcess(pid: pid, logPath: logPath)
    }

    /// Reaps the child if it has exited; returns its wait status.
    @discardableResult
    public func poll() -> Int32? {
        if let status { return status }
        var st: Int32 = 0
        let r = waitpid(pid, &st, WNOHANG)
        if r == pid { status = st }
        return status
    }

    /// Whether it is still running.
    public var isRunning: Bool { poll() == nil }

    /// Waits up to `timeout` seconds; returns the wait status, or nil.
    public func wait(timeout: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let s = poll() { return s }
            usleep(2000)
        }
        return poll()
    }

    /// Sends a signal (only while not yet reaped, so the pid is still ours).
    public func signal(_ sig: Int32) {
        if poll() == nil { kill(pid, sig) }
    }

    /// Kills and reaps.
    public func killAndReap() {
        signal(SIGKILL)
        _ = wait(timeout: 10)
    }

    /// "exited with 1", "killed by signal 9".
    public func describe(_ status: Int32) -> String {
        let sig = status & 0x7f
        return sig == 0 ? "exited with \((status >> 8) & 0xff)" : "was killed by signal \(sig)"
    }

    /// The last lines of the server's log.
    public func logTail(_ lines: Int = 12) -> String {
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }
}
