// A mount owned by the harness: the harness opens /dev/fuse, mounts it with
// mount(2), and hands the descriptor to a reference server process, which
// resumes nothing and simply serves it (libfuse's /dev/fd/N convention).
//
// Pitfall (FUSE-RESTART.md): nothing touches the mount before the server
// has answered FUSE_INIT, or the caller blocks in D state. The server tells
// us through the ready pipe; until then we only wait on that pipe.
import CFuseShim
import Foundation
import FuseServer
import Glibc
import ResultModel

/// A harness-owned FUSE mount and the server behind it.
public final class FuseMount: @unchecked Sendable {
    /// Where it is mounted.
    public let mountpoint: String
    /// The server process.
    public private(set) var server: ServerProcess
    /// The stats file the server writes.
    public let statsPath: String
    private var mounted = true

    /// Seconds to wait for the server's ready signal.
    public static let readyTimeout = 15.0

    /// Mounts `source` at `mountpoint` and starts a reference server on it.
    public init(source: String, mountpoint: String, options: ServerOptions, statsPath: String,
                logPath: String, executable: String) throws {
        self.mountpoint = mountpoint
        self.statsPath = statsPath
        let dev = HostCheck.devicePath
        let fd = open(dev, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else {
            throw SupervisorError.environment("cannot open \(dev): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        guard fbshim_mount_fuse(fd, mountpoint, "fusebench", "fusebench", "") == 0 else {
            throw SupervisorError.environment("mount(2) of a FUSE file system on \(mountpoint) failed: "
                                              + "\(String(cString: strerror(errno)))")
        }
        var ready: [Int32] = [0, 0]
        guard pipe(&ready) == 0, fcntl(ready[0], F_SETFD, FD_CLOEXEC) == 0,
              fcntl(ready[1], F_SETFD, FD_CLOEXEC) == 0 else {
            _ = fbshim_umount2(mountpoint, Int32(MNT_DETACH))
            throw SupervisorError.failed("pipe failed: \(String(cString: strerror(errno)))")
        }
        defer { close(ready[0]) }
        let config = String(decoding: try JSONEncoder().encode(options), as: UTF8.self)
        do {
            server = try ServerProcess.spawn(
                executable: executable,
                arguments: ["serve", "--source", source, "--fuse-fd", "3", "--ready-fd", "4",
                            "--stats-file", statsPath, "--parent-pid", String(getpid()),
                            "--config-json", config, mountpoint],
                descriptors: [(fd, 3), (ready[1], 4)], logPath: logPath)
        } catch {
            close(ready[1])
            _ = fbshim_umount2(mountpoint, Int32(MNT_DETACH))
            throw error
        }
        close(ready[1])
        if let problem = Self.waitReady(ready[0], server: server) {
            server.killAndReap()
            abortConnection()
            _ = fbshim_umount2(mountpoint, Int32(MNT_DETACH))
            mounted = false
            throw problem
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
    public var connectionId: Int? {
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
    /// error at once. The way out of a hung server.
    @discardableResult
    public func abortConnection() -> Bool {
        guard let id = connectionId else { return false }
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
            if fbshim_umount2(mountpoint, 0) != 0 {
                abortConnection()
                _ = fbshim_umount2(mountpoint, Int32(MNT_DETACH))
            }
            mounted = false
        }
        if let s = server.wait(timeout: timeout) { return s }
        server.killAndReap()
        return server.poll()
    }

    /// Reads the server's statistics (valid even after it died).
    public func serverReport() -> ServerReport? {
        guard let region = try? StatsRegion(path: statsPath, create: false) else { return nil }
        return region.report()
    }

    deinit { unmount(timeout: 5) }
}
