// A scripted probe around a restart on a real mount: the steps every
// hazard probe is made of (kill and restart, read, prime), and the
// reading of a file by its stamped first line.
import Workload
import CFuseShim
import Foundation
import Contract
import FuseServer
import Glibc
import ResultModel
import Synchronization

/// Reads a file's identity through a path: the name, or the errno.
enum Reading: Equatable {
    case name(String?)
    case error(Int32)
}

/// A probe step found the server dead, not killed by the harness.
struct ProbeDeath: Error {
    let why: String
}

/// The probes, on one mount.
final class Probe: Sendable {
    let mount: RestartableMount
    let backing: String
    let mnt: String
    let files: [String]

    /// Set while the probe itself kills and restarts the server.
    private let restarting = Atomic<Bool>(false)
    private let watching = Atomic<Bool>(true)
    /// How the server died on its own during the probe, if it did.
    let diedOnItsOwn = Mutex<String?>(nil)

    init(mount: RestartableMount, backing: String, mnt: String, files: [String]) {
        self.mount = mount
        self.backing = backing
        self.mnt = mnt
        self.files = files
        // A server that dies on its own (not by the probe's kill) leaves
        // calls outside the guarded steps waiting on the kept connection
        // (the closes of held descriptors): its death aborts the connection.
        Thread.detachNewThread { [self] in
            while watching.load(ordering: .relaxed) {
                usleep(20_000)
                if restarting.load(ordering: .relaxed) { continue }
                let server = mount.server
                if let st = server.poll(), !restarting.load(ordering: .relaxed), server === mount.server {
                    diedOnItsOwn.withLock { $0 = "\(mount.serverName) \(server.describe(st)) on its own during the probe" }
                    mount.abortConnection()
                    return
                }
            }
        }
    }

    /// Ends the watch on the server (before the unmount).
    func stopWatching() { watching.store(false, ordering: .relaxed) }

    // MARK: - Steps

    /// Runs `body` on a thread; if it takes longer than the watchdog
    /// allows, aborts the connection (which ends it) and throws.
    func guarded<T>(_ what: String, _ body: @escaping () -> T) throws -> T {
        try finish(what, Background(body))
    }

    /// Waits for `task` under the watchdog (see `guarded`).
    /// A server that dies on its own while a step waits (a server that
    /// resumed a connection it cannot serve) ends the step at once.
    func finish<T>(_ what: String, _ task: Background<T>) throws -> T {
        let deadline = Date().addingTimeInterval(Settings.watchdogSeconds)
        while Date() < deadline {
            if let v = task.wait(seconds: 0.05) { return v }
            if let st = mount.server.poll() {
                mount.abortConnection()
                _ = task.wait(seconds: 10)
                throw ProbeDeath(why: "\(mount.serverName) \(mount.server.describe(st)) on its own during \(what)")
            }
        }
        mount.abortConnection()
        _ = task.wait(seconds: 10)
        throw SupervisorError.watchdog("\(what) made no progress for \(fmtSeconds(Settings.watchdogSeconds)); "
                                       + "aborted the FUSE connection. Server log:\n\(mount.server.logTail())")
    }

    /// SIGKILL, `outage` while no server runs, restart by the strategy.
    /// Returns the time from the kill to the new server being ready.
    func killAndRestart(during outage: () throws -> Void = {}) throws -> Double {
        try mount.prepareStandby()
        restarting.store(true, ordering: .relaxed)
        defer { restarting.store(false, ordering: .relaxed) }
        let t0 = fbshim_monotonic_ns()
        mount.server.signal(SIGKILL)
        mount.server.waitForExit()
        try outage()
        try restartAfterCrash()
        return Double(fbshim_monotonic_ns() - t0)
    }

    /// Runs `body`, in which the server dies by the probe's hand (an armed
    /// crash), without the watch taking it for a death of its own.
    func crashing<T>(_ body: () throws -> T) throws -> T {
        restarting.store(true, ordering: .relaxed)
        defer { restarting.store(false, ordering: .relaxed) }
        return try body()
    }

    /// Restarts the dead server by the strategy; a new instance that dies
    /// before it serves is the scenario's verdict (ProbeDeath).
    func restartAfterCrash() throws {
        do { try mount.restart() } catch {
            // Nothing serves the connection: calls on it (the probe's own
            // closes) must fail rather than wait.
            mount.abortConnection()
            // The new instance died before it served (on the replayed
            // INIT, say): a verdict on the server, not a harness failure.
            if case SupervisorError.failed(let why) = error, mount.server.poll() != nil {
                throw ProbeDeath(why: why.components(separatedBy: " Its output:").first ?? why)
            }
            throw error
        }
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
}
