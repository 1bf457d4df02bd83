// Errors the CLI reports, each with its documented exit code.
import ArgumentParser
import Glibc
import ResultModel

/// A failure with a message for the user and an exit code.
enum CLIError: Error, CustomStringConvertible {
    /// The run failed (exit 1).
    case failed(String)
    /// Bad input (exit 2).
    case input(String)
    /// Unsuitable environment (exit 3).
    case environment(String)
    /// A watchdog aborted (exit 4).
    case watchdog(String)
    /// Interrupted by a signal (exit 130).
    case interrupted

    var description: String {
        switch self {
        case .failed(let m), .input(let m), .environment(let m), .watchdog(let m): return m
        case .interrupted: return "interrupted; cleaned up"
        }
    }

    var exitCode: Int32 {
        switch self {
        case .failed: return 1
        case .input: return 2
        case .environment: return 3
        case .watchdog: return 4
        case .interrupted: return 130
        }
    }
}

