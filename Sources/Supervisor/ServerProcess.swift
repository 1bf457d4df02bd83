// A FUSE server process started by the harness: spawned with the
// descriptors it needs at fixed numbers, its stderr in a log file, and
// ended only by its pid.
import Workload
import Contract
import Foundation
import CFuseShim
import Glibc
import Synchronization

/// The harness's lifeline: a pipe whose write end only this process holds.
/// Servers get the read end and exit when it reports EOF, that is when the
/// harness is gone, however it died. (PR_SET_PDEATHSIG would fire when the
/// *thread* that spawned a server exits, which is wrong for servers started
/// by the fault supervisor's thread.)
public enum Lifeline {
    /// The read end, to hand to children.
    public static let readEnd: Int32 = {
        var fds: [Int32] = [0, 0]
        precondition(pipe(&fds) == 0, "pipe for the lifeline failed")
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        return fds[0]
    }()
}

/// A server process started through the Spawner: known by pid and pidfd
/// (so signals reach exactly it), its exit status reported by the spawner.
public final class ServerProcess: Sendable {
    /// Its pid.
    public let pid: pid_t
    /// Where its stderr goes.
    public let logPath: String
    private let pidfd: Int32
    private let spawner: Spawner?

    init(pid: pid_t, pidfd: Int32, logPath: String, spawner: Spawner?) {
        self.pid = pid
        self.pidfd = pidfd
        self.logPath = logPath
        self.spawner = spawner
    }

    /// Read end of its death-notice pipe (-1: none): a byte arrives when a
    /// crash hook fires, just before the process dies.
    private let notice = Atomic<Int32>(-1)

    deinit {
        if pidfd >= 0 { close(pidfd) }
        let n = notice.load(ordering: .relaxed)
        if n >= 0 { close(n) }
    }

    /// Takes the read end of its death-notice pipe.
    func attachDeathNotice(_ fd: Int32) { notice.store(fd, ordering: .relaxed) }

    /// Blocks up to `timeoutNs` (UInt64.max: forever) until it has exited
    /// or sent its death notice; whether either came. Nothing polls: one
    /// ppoll on the pidfd and the notice pipe.
    public func waitForDeathOrNotice(timeoutNs: UInt64) -> Bool {
        guard pidfd >= 0 else { return true }
        return fbshim_wait_readable2(pidfd, notice.load(ordering: .relaxed), timeoutNs) > 0
    }

    /// After a fatal signal (sent, or announced by the death notice): waits
    /// until none of its threads can take a request off the FUSE device any
    /// more (they are exiting, gone, or have SIGKILL pending and sleep in
    /// another system call; /proc), which comes well before the exit itself, when the last
    /// thread has torn the address space down and closed every descriptor.
    /// Requests it had read can be resent from then on. Returns at the
    /// exit at the latest.
    /// `stats`: its statistics, whose readers the caller stopped
    /// (fbshim_stop_readers): a reader found serving is out. Between looks,
    /// until `spinUntil` (monotonic ns), it yields its CPU, then sleeps 50 us
    /// at a time (woken early by the exit). On a virtual machine whose idle
    /// vCPUs halt, a harness asleep for 50 us left its vCPU idle, and the
    /// host ran it again 1 to 2 ms later (perf sched: the ppoll's timer, and
    /// a standby's wakeup sent to that vCPU, waited as long); yielding keeps
    /// the vCPU running and gives it to whatever else may run there.
    public func waitUntilNoThreadReadsDevice(stats: StatsRegion? = nil, spinUntil: UInt64 = 0) {
        while !noThreadReadsDevice(stats: stats) {
            if fbshim_monotonic_ns() < spinUntil {
                sched_yield()
            } else {
                _ = fbshim_wait_readable2(pidfd, -1, 50_000)
            }
        }
    }

    /// One look: whether none of its threads can take a request off the
    /// FUSE device any more (as `waitUntilNoThreadReadsDevice` waits for).
    public func noThreadReadsDevice(stats: StatsRegion? = nil) -> Bool {
        hasExited || fbshim_no_thread_reads_fuse(pid, stats?.region) == 1
    }

    /// Waits up to `timeoutNs` for `fd` to be readable (bit 1 of the result;
    /// -1: no descriptor) or the process to exit (bit 2).
    func waitReadable(_ fd: Int32, orExitWithin timeoutNs: UInt64) -> Int32 {
        fbshim_wait_readable2(fd, pidfd, timeoutNs)
    }

    /// Stands in before the first spawn; counts as exited.
    static let placeholder = ServerProcess(pid: 0, pidfd: -1, logPath: "/dev/null", spawner: nil)

    /// Whether the process has exited (its pidfd is readable).
    public var hasExited: Bool { waitPidfd(0) }

    private func waitPidfd(_ timeoutMs: Int32) -> Bool {
        guard pidfd >= 0 else { return true }
        return fbshim_wait_readable2(pidfd, -1, timeoutMs < 0 ? .max : UInt64(timeoutMs) * 1_000_000) > 0
    }

    /// The wait status once it has exited (nil while it runs). The status
    /// comes from the spawner, a moment after the exit; -1 if it never comes.
    @discardableResult
    public func poll() -> Int32? {
        guard hasExited else { return nil }
        guard let spawner else { return 0 }
        return spawner.status(of: pid, waitingUpTo: 1) ?? -1
    }

    /// Blocks until it has exited; returns the wait status.
    @discardableResult
    public func waitForExit() -> Int32? {
        _ = waitPidfd(-1)
        return poll()
    }

    /// Waits up to `timeout` seconds; returns the wait status, or nil.
    public func wait(timeout: Double) -> Int32? {
        _ = waitPidfd(Int32(max(0, timeout * 1000)))
        return poll()
    }

    /// Moves its threads as FUSEBENCH_DYING_CPU says (by default to a CPU
    /// other than the caller's): before a kill, or once its death is
    /// announced. A dying process's exit runs in the kernel without
    /// yielding; on the caller's CPU it would hold up the handover.
    public func moveDyingThreads() {
        switch Settings.dyingCPU {
        case "stay": return
        case "same": _ = fbshim_pin_threads(pid, Int32(FBSHIM_CPU_MINE))
        default: _ = fbshim_pin_threads(pid, Int32(FBSHIM_CPU_OTHER))
        }
    }

    /// Pins its threads to the caller's CPU, which is awake: a warm standby
    /// about to be let go wakes there at once (on an idle vCPU that halted
    /// it would wait for the host). `unpin()` lets them go anywhere again.
    public func pinToCallerCPU() { _ = fbshim_pin_threads(pid, Int32(FBSHIM_CPU_MINE)) }
    public func unpin() { _ = fbshim_pin_threads(pid, Int32(FBSHIM_CPU_ANY)) }

    /// Sends a signal through the pidfd, while it runs.
    public func signal(_ sig: Int32) {
        if pidfd >= 0 && !hasExited { _ = fbshim_pidfd_send_signal(pidfd, sig) }
    }

    /// Waits up to `timeout` seconds for the exit, kills it if it has not
    /// come; returns the wait status.
    public func waitOrKill(timeout: Double) -> Int32? {
        if let s = wait(timeout: timeout) { return s }
        killAndReap()
        return poll()
    }

    /// Kills and waits for the exit.
    public func killAndReap() {
        signal(SIGKILL)
        _ = wait(timeout: 10)
    }

    /// "exited with 1", "was killed by signal 9".
    public func describe(_ status: Int32) -> String {
        if status == -1 { return "exited (status unknown)" }
        let sig = status & 0x7f
        return sig == 0 ? "exited with \((status >> 8) & 0xff)" : "was killed by signal \(sig)"
    }

    /// Resident set size now (VmRSS), if the process is alive.
    public func residentBytes() -> UInt64? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kb = line.split(separator: " ").dropFirst().first.flatMap({ UInt64($0) }) else { return nil }
        return kb * 1024
    }

    /// The last lines of the server's log.
    public func logTail(_ lines: Int = 12) -> String {
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }

    /// Spawn attributes for a child of the harness: no blocked signals, the
    /// stop signals (and SIGPIPE, SIGCHLD) at their defaults, and a process
    /// group of its own (the child's pid). Destroy with posix_spawnattr_destroy.
    static func initOwnGroupAttributes(_ attr: inout posix_spawnattr_t) {
        posix_spawnattr_init(&attr)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attr, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for s in [SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGCHLD] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigdefault(&attr, &defaults)
        posix_spawnattr_setpgroup(&attr, 0)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))
    }

    /// posix_spawn with `descriptors` mapped to fixed numbers, stdin and
    /// stdout on /dev/null, stderr appended to `logPath`, default signal
    /// handling, and a process group of its own (a terminal's Ctrl-C reaches
    /// the harness, which shuts servers down in order). Everything else is
    /// closed. Only the spawner calls this for servers: a process
    /// holding files on a FUSE mount must not fork (see Spawner).
    static func posixSpawn(executable: String, arguments: [String], descriptors: [(Int32, Int32)],
                           logPath: String) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        // Move sources out of the way of the targets first, so that a
        // source that already sits on a target number cannot be clobbered.
        var moved: [(Int32, Int32)] = []
        defer { for (high, _) in moved { close(high) } }
        for (from, to) in descriptors {
            let high = fcntl(from, F_DUPFD_CLOEXEC, 100)
            if high < 0 { throw SupervisorError.failed("fcntl(F_DUPFD_CLOEXEC) failed: \(String(cString: strerror(errno)))") }
            moved.append((high, to))
        }
        for (high, to) in moved { posix_spawn_file_actions_adddup2(&actions, high, to) }
        // Descriptors we inherited without close-on-exec (a test runner's
        // pipe or socket, say) must not reach the child: whoever started us
        // may wait for them to close, and a server outlives the harness.
        let firstFree = (descriptors.map(\.1).max() ?? 2) + 1
        guard fbshim_spawn_closefrom(&actions, firstFree) == 0 else {
            throw SupervisorError.failed("posix_spawn_file_actions_addclosefrom_np failed")
        }

        var attr = posix_spawnattr_t()
        ServerProcess.initOwnGroupAttributes(&attr)
        defer { posix_spawnattr_destroy(&attr) }

        let argv = [executable] + arguments
        var cargs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for p in cargs { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, &attr, &cargs, environ)
        guard rc == 0 else {
            throw SupervisorError.failed("cannot start \(executable): \(String(cString: strerror(rc)))")
        }
        return pid
    }
}

