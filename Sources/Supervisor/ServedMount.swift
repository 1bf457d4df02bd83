// A mount served by a server process the harness started: the reference
// server's (FuseMount) or another server's (ExternalMount). A run watches
// either the same way: its server's death, the watchdog's abort, the
// unmount and the server's exit status.
import Workload
import Contract
import ResultModel

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
    /// Starts the next server after the current one died, as the strategy says.
    func restart() throws
    /// Reports of every server instance so far (valid after they died).
    func serverReports() -> [ServerReport]
}

extension FuseMount: RestartableMount {}

extension ExternalMount: RestartableMount {}
