// A mount served by a server process the harness started: the reference
// server's (FuseMount) or another server's (ExternalMount). A run watches
// either the same way: its server's death, the watchdog's abort, the
// unmount and the server's exit status.
import Workload
import Contract
import ResultModel
import Synchronization
import CFuseShim
import Glibc

/// A mount and the server process behind it.
public protocol ServedMount: AnyObject, Sendable {
    /// The server serving it now.
    var server: ServerProcess { get }
    /// The server as messages name it ("the reference server", "passthrough_ll").
    var serverName: String { get }
    /// Aborts the FUSE connection (fusectl): every waiting call fails.
    @discardableResult func abortConnection() -> Bool
    /// Unmounts and waits for the server to exit; its wait status.
    @discardableResult func unmount(timeout: Double) -> Int32?
}

extension FuseMount: ServedMount {
    /// "the reference server".
    public var serverName: String { "the reference server" }
}

extension ExternalMount: ServedMount {}

/// A mount whose server the harness faults and restarts (FaultSupervisor):
/// the reference server's, or another server's run with a strategy.
public protocol RestartableMount: ServedMount {
    /// Where it is mounted.
    var mountpoint: String { get }
    /// The current server's statistics (arming faults, first reply).
    var stats: StatsRegion { get }
    /// The restart strategy (nil: restarts are not expected).
    var strategy: Strategy? { get }
    /// Starts a warm standby for the next restart, if the strategy has one.
    func prepareStandby() throws
    /// Readies the next handover while the server still serves (before a
    /// fault the harness causes): what the restart would otherwise do
    /// after the death.
    func prepareHandover() throws
    /// Starts the next server after the current one died, as the strategy says.
    func restart() throws
    /// Reports of every server instance so far (valid after they died).
    func serverReports() -> [ServerReport]
    /// The harness's marks of the last handover (zeros: none, or a remount).
    var lastHandover: HandoverMarks { get }
}

/// The harness's side of one handover, on the monotonic clock (0: did not happen).
public struct HandoverMarks: Sendable {
    /// No thread of the dead server could take a request off the device any more.
    public var threadsOutNs: UInt64 = 0
    /// FUSE_NOTIFY_RESEND written (marked just before the write).
    public var resendNs: UInt64 = 0
    /// The warm standby's go written (0: no standby; a new server was started).
    public var goNs: UInt64 = 0
}

/// Writes FUSE_NOTIFY_RESEND to the kept connection `fd`, and then
/// FUSE_NOTIFY_INC_EPOCH if `incrementEpoch`; returns when the resend went
/// (monotonic ns), marked just before its write: the write wakes the new
/// server's readers, which may take the CPU at its return (marked after,
/// the resend came up to 1.2 ms later than the answers to the requests it
/// re-delivered).
func notifyResend(_ fd: Int32, incrementEpoch: Bool) throws -> UInt64 {
    let ns = fbshim_monotonic_ns()
    guard fbshim_notify_bare(fd, 7 /* FUSE_NOTIFY_RESEND */) == 0 else {
        throw SupervisorError.failed("FUSE_NOTIFY_RESEND failed: \(String(cString: strerror(errno)))")
    }
    if incrementEpoch && fbshim_notify_bare(fd, 8 /* FUSE_NOTIFY_INC_EPOCH */) != 0 {
        throw SupervisorError.failed("FUSE_NOTIFY_INC_EPOCH failed: \(String(cString: strerror(errno)))")
    }
    return ns
}

extension FuseMount: RestartableMount {}

extension ExternalMount: RestartableMount {}

/// The server instance serving a mount now, its statistics, its number,
/// and the stats files of every instance so far. The fault thread replaces
/// them at a restart while the harness's other threads read them, so they
/// live behind a lock (FuseMount, ExternalMount).
final class ServerInstances: Sendable {
    private struct State {
        var server: ServerProcess = .placeholder
        var stats = StatsRegion()
        var instance: UInt32 = 1
        var statsPaths: [String] = []
    }
    private let state = Mutex(State())

    var server: ServerProcess { state.withLock { $0.server } }
    var stats: StatsRegion { state.withLock { $0.stats } }
    var instance: UInt32 { state.withLock { $0.instance } }
    var statsPaths: [String] { state.withLock { $0.statsPaths } }

    /// `process` serves now, as instance `instance` (unchanged: nil), its
    /// statistics in `statsPath` (mapped as `stats` once known).
    func started(_ process: ServerProcess, instance: UInt32? = nil, statsPath: String, stats: StatsRegion? = nil) {
        state.withLock {
            $0.server = process
            if let instance { $0.instance = instance }
            if let stats { $0.stats = stats }
            $0.statsPaths.append(statsPath)
        }
    }

    /// The current instance's statistics, once mapped.
    func mapped(_ stats: StatsRegion) { state.withLock { $0.stats = stats } }

    /// The next instance's number is one more.
    func advance() { state.withLock { $0.instance += 1 } }

    /// Reports of every instance so far (valid after they died).
    func reports() -> [ServerReport] {
        statsPaths.compactMap { (try? StatsRegion(path: $0, create: false))?.report() }
    }
}
