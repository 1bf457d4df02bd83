// Failures of the harness, each mapped to a documented exit code by the CLI.

/// What went wrong while setting up, running or tearing down.
public enum SupervisorError: Error, CustomStringConvertible {
    /// The machine cannot run FUSE benchmarks as it is (exit 3).
    case environment(String)
    /// Something failed during the run (exit 1).
    case failed(String)
    /// The request does not make sense (exit 2).
    case input(String)
    /// A watchdog gave up on a mount or server (exit 4).
    case watchdog(String)
    /// A stop signal arrived (exit 130).
    case interrupted

    /// The message.
    public var description: String {
        switch self {
        case .environment(let m), .failed(let m), .input(let m), .watchdog(let m): return m
        case .interrupted: return "interrupted by a signal; the mount and scratch space were cleaned up"
        }
    }
}
