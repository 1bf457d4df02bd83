// The spawner: a small process, started before anything is mounted, that
// starts server processes for the harness.
//
// Why: a process that holds open files on a FUSE mount must not fork. The
// child gets a copy of the descriptor table, and closing a copy (dup2 onto
// a target number, or close-on-exec) sends FLUSH to the FUSE server. When
// that server is dead and the connection is kept for a handover, the close
// blocks until a server answers, and the server being spawned never gets to
// exist. The harness's load threads hold such files, so the harness sends
// the descriptors a server needs (SCM_RIGHTS) to the spawner, which holds no
// FUSE files, and gets back the pid and a pidfd.
import Workload
import CFuseShim
import Foundation
import Glibc
import Synchronization

/// A request to the spawner.
struct SpawnRequest: Codable {
    var executable: String
    var arguments: [String]
    var log: String
    /// Descriptor numbers the child sees, in the order of the passed fds.
    var targets: [Int32]
}

/// A message from the spawner.
struct SpawnerMessage: Codable {
    var pid: Int32?
    var exit: Int32?
    var status: Int32?
    var error: String?
}

/// The harness's side of a spawner process.
public final class Spawner: Sendable {
    private let sock: Int32
    /// The spawner's pid.
    public let pid: pid_t
    private let requestLock = NSLock()
    private let inbox = Inbox()

    /// What the reader thread shares with the Spawner: it holds this, not
    /// the Spawner, so the Spawner can go away while the thread still runs.
    private final class Inbox: Sendable {
        let reply = Mutex<[(SpawnerMessage, Int32)]>([])
        let replyReady = DispatchSemaphore(value: 0)
        let statuses = Mutex<[pid_t: Int32]>([:])
    }

    /// Starts a spawner: `executable spawner`, with the lifeline.
    public init(executable: String) throws {
        var fds: [Int32] = [0, 0]
        guard fbshim_seqpacket_pair(&fds) == 0 else {
            throw SupervisorError.failed("socketpair failed: \(String(cString: strerror(errno)))")
        }
        defer { close(fds[1]) }
        sock = fds[0]
        do {
            pid = try ServerProcess.posixSpawn(executable: executable, arguments: ["spawner", "--socket-fd", "3",
                                                                                  "--lifeline-fd", "4"],
                                               descriptors: [(fds[1], 3), (Lifeline.readEnd, 4)], logPath: "/dev/null")
        } catch {
            close(fds[0])
            throw error
        }
        // The reader has its own descriptor of the socket: deinit's shutdown
        // ends its recv, and it closes its descriptor itself.
        let readerSock = fcntl(sock, F_DUPFD_CLOEXEC, 0)
        let inbox = self.inbox
        Thread.detachNewThread { Self.readLoop(readerSock, inbox) }
    }

    deinit {
        shutdown(sock, Int32(SHUT_RDWR))
        close(sock)
        var st: Int32 = 0
        waitpid(pid, &st, 0)
    }

    private static func readLoop(_ sock: Int32, _ inbox: Inbox) {
        defer { close(sock) }
        var buf = [UInt8](repeating: 0, count: 4096)
        var fds = [Int32](repeating: -1, count: 4)
        while true {
            var n: Int32 = 0
            let len = fbshim_recv_with_fds(sock, &buf, buf.count, &fds, 4, &n)
            if len <= 0 { break }
            guard let m = try? JSONDecoder().decode(SpawnerMessage.self, from: Data(buf[0..<len])) else { continue }
            if let exited = m.exit {
                inbox.statuses.withLock { $0[exited] = m.status ?? -1 }
            } else {
                inbox.reply.withLock { $0.append((m, n > 0 ? fds[0] : -1)) }
                inbox.replyReady.signal()
            }
        }
        inbox.replyReady.signal()
    }

    /// Starts `executable` with `descriptors` (ours, and the numbers the
    /// child sees), stderr appended to `logPath`.
    func spawn(executable: String, arguments: [String], descriptors: [(Int32, Int32)],
               logPath: String) throws -> ServerProcess {
        requestLock.lock()
        defer { requestLock.unlock() }
        let req = SpawnRequest(executable: executable, arguments: arguments, log: logPath,
                               targets: descriptors.map(\.1))
        let data = try JSONEncoder().encode(req)
        let sent = data.withUnsafeBytes { b in
            fbshim_send_with_fds(sock, b.baseAddress, b.count, descriptors.map(\.0), Int32(descriptors.count))
        }
        guard sent == data.count else {
            throw SupervisorError.failed("cannot reach the spawner process: \(String(cString: strerror(errno)))")
        }
        guard inbox.replyReady.wait(timeout: .now() + 10) == .success,
              let (m, pidfd) = inbox.reply.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) else {
            throw SupervisorError.failed("the spawner process did not answer")
        }
        guard let pid = m.pid, pidfd >= 0 else {
            throw SupervisorError.failed(m.error ?? "the spawner could not start \(executable)")
        }
        return ServerProcess(pid: pid, pidfd: pidfd, logPath: logPath, spawner: self)
    }

    /// The wait status of `pid`, once reported, waiting up to `seconds`.
    func status(of pid: pid_t, waitingUpTo seconds: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            if let s = inbox.statuses.withLock({ $0[pid] }) { return s }
            if Date() >= deadline { return nil }
            usleep(200)
        }
    }

    /// How long an exited child stays a zombie before the spawner reaps it.
    /// Its exit status is reported at once (read without reaping); the
    /// reap itself (release_task: the dead process's /proc entries
    /// evicted, its task freed) took 1.4 ms of CPU in the first 5 ms after
    /// a kill (perf), while the load and the new server wanted both CPUs.
    static let reapDelayNs: UInt64 = 300_000_000

    /// The spawner process's main loop: serve requests on `socket` until it
    /// closes, reporting children's exits (watched through pidfds) and
    /// reaping them `reapDelayNs` later.
    public static func serve(socket: Int32) -> Never {
        var children: [(pid_t, Int32)] = []
        var zombies: [(pid: pid_t, at: UInt64)] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        var fds = [Int32](repeating: -1, count: 16)
        func send(_ m: SpawnerMessage, fd: Int32 = -1) {
            guard let d = try? JSONEncoder().encode(m) else { return }
            var f = fd
            _ = d.withUnsafeBytes { b in fbshim_send_with_fds(socket, b.baseAddress, b.count, &f, fd >= 0 ? 1 : 0) }
        }
        func reap(until: UInt64) {
            var st: Int32 = 0
            zombies.removeAll { z in
                guard z.at <= until else { return false }
                while waitpid(z.pid, &st, 0) < 0 && errno == EINTR {}
                return true
            }
        }
        while true {
            var polls = [pollfd(fd: socket, events: Int16(POLLIN), revents: 0)]
                + children.map { pollfd(fd: $0.1, events: Int16(POLLIN), revents: 0) }
            let now = fbshim_monotonic_ns()
            let timeout = zombies.map { Int32(($0.at - min($0.at, now) + 999_999) / 1_000_000) }.min() ?? -1
            let r = Glibc.poll(&polls, nfds_t(polls.count), timeout)
            if r < 0 { if errno == EINTR { continue }; exit(1) }
            reap(until: fbshim_monotonic_ns())
            for (i, p) in polls.enumerated().dropFirst() where p.revents != 0 {
                let (pid, pidfd) = children[i - 1]
                var st = fbshim_peek_exit_status(pidfd)
                if st >= 0 {
                    zombies.append((pid, fbshim_monotonic_ns() + reapDelayNs))
                } else {
                    // Not to be read without reaping: reaped at once.
                    var w: Int32 = 0
                    guard waitpid(pid, &w, WNOHANG) == pid else { continue }
                    st = w
                }
                send(SpawnerMessage(pid: nil, exit: pid, status: st, error: nil))
                close(pidfd)
                children[i - 1].1 = -1
            }
            children.removeAll { $0.1 < 0 }
            guard polls[0].revents != 0 else { continue }
            var n: Int32 = 0
            let len = fbshim_recv_with_fds(socket, &buf, buf.count, &fds, 16, &n)
            if len <= 0 {
                reap(until: .max)
                exit(0)
            }
            let received = Array(fds[0..<Int(n)])
            defer { for fd in received { close(fd) } }
            guard let req = try? JSONDecoder().decode(SpawnRequest.self, from: Data(buf[0..<len])),
                  req.targets.count == received.count else {
                send(SpawnerMessage(pid: nil, exit: nil, status: nil, error: "malformed spawn request"))
                continue
            }
            do {
                let pid = try ServerProcess.posixSpawn(executable: req.executable, arguments: req.arguments,
                                                       descriptors: Array(zip(received, req.targets)),
                                                       logPath: req.log)
                let watch = fbshim_pidfd_open(pid)
                let forHarness = fbshim_pidfd_open(pid)
                children.append((pid, watch))
                send(SpawnerMessage(pid: pid, exit: nil, status: nil, error: nil), fd: forHarness)
                close(forHarness)
            } catch {
                send(SpawnerMessage(pid: nil, exit: nil, status: nil, error: "\(error)"))
            }
        }
    }
}
