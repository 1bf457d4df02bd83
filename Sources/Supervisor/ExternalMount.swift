// Another FUSE server, given as a command template, mounted over the same
// backing directory so that the same workloads measure it: libfuse's
// passthrough_ll, or a user's own server.
//
// The server mounts itself (it must stay in the foreground); the harness
// waits for the mount to appear in its mount namespace, and unmounts it at
// the end, which ends the server's session loop. It is started through
// the spawner under `setpriv --pdeathsig KILL`: when the harness dies, the
// spawner follows it (lifeline) and the kernel kills the server.
import Workload
import CFuseShim
import Foundation
import Contract
import FuseServer
import Glibc
import Synchronization

/// A named server command template.
public struct PeerServer: Sendable, Equatable {
    /// Name in results ("passthrough_ll").
    public var name: String
    /// Command with placeholders: {source}, {mountpoint}, {threads} (the
    /// workload's server threads), {timeout} (its attrTimeout, seconds),
    /// {cache} ("always" with keepCache, else "auto").
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
    func command(source: String, mountpoint: String, options: ServerOptions) -> String {
        template.replacingOccurrences(of: "{source}", with: source)
            .replacingOccurrences(of: "{mountpoint}", with: mountpoint)
            .replacingOccurrences(of: "{threads}", with: String(options.threads))
            .replacingOccurrences(of: "{timeout}", with: String(format: "%g", options.attrTimeout))
            .replacingOccurrences(of: "{cache}", with: options.keepCache ? "always" : "auto")
    }
}

/// A mount served by an external server process.
public final class ExternalMount: Sendable {
    /// The mountpoint.
    public let mountpoint: String
    /// The command line that was run.
    public let command: String
    /// The server process.
    public let server: ServerProcess
    /// The server's name, from its command template.
    public let serverName: String
    private let spawner: Spawner
    private let mounted = Atomic<Bool>(true)

    /// Starts `peer` over `source` at `mountpoint` and waits for its mount.
    public init(peer: PeerServer, source: String, mountpoint: String, options: ServerOptions, dir: String,
                executable: String) throws {
        self.mountpoint = mountpoint
        command = peer.command(source: source, mountpoint: mountpoint, options: options)
        serverName = peer.name
        spawner = try Spawner(executable: executable)
        server = try spawner.spawn(executable: "/usr/bin/setpriv",
                                   arguments: ["--pdeathsig", "KILL", "--", "/bin/sh", "-c", "exec " + command],
                                   descriptors: [], logPath: "\(dir)/server.log")
        let deadline = Date().addingTimeInterval(Settings.readyTimeout)
        while FuseConnection.id(of: mountpoint) == nil {
            if let st = server.poll() {
                mounted.store(false, ordering: .relaxed)
                throw SupervisorError.failed("\(peer.name) \(server.describe(st)) before mounting "
                                             + "(command: \(command)). Its output:\n\(server.logTail())")
            }
            if Date() > deadline {
                server.killAndReap()
                mounted.store(false, ordering: .relaxed)
                throw SupervisorError.watchdog("\(peer.name) did not mount \(mountpoint) within "
                                               + "\(Int(Settings.readyTimeout)) s (command: \(command); it must run "
                                               + "in the foreground, e.g. -f). Its output:\n\(server.logTail())")
            }
            usleep(5_000)
        }
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
        return server.waitOrKill(timeout: timeout)
    }

    deinit { unmount(timeout: 5) }
}
