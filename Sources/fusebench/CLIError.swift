// Errors the CLI reports, each with its documented exit code.
import Workload
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
    /// The gate found a regression (exit 5).
    case regression(String)
    /// A result file (the baseline) is missing or unreadable (exit 6).
    case unreadableResult(String)
    /// A result file has a schema version this build does not read (exit 7).
    case incompatibleSchema(String)
    /// Interrupted by a signal (exit 130).
    case interrupted

    var description: String {
        switch self {
        case .failed(let m), .input(let m), .environment(let m), .watchdog(let m), .regression(let m),
             .unreadableResult(let m), .incompatibleSchema(let m): return m
        case .interrupted: return "interrupted; cleaned up"
        }
    }

    var exitCode: Int32 {
        switch self {
        case .failed: return 1
        case .input: return 2
        case .environment: return 3
        case .watchdog: return 4
        case .regression: return 5
        case .unreadableResult: return 6
        case .incompatibleSchema: return 7
        case .interrupted: return 130
        }
    }
}


/// Reads a result file, mapping its errors to exit codes 6 and 7.
func readResult(_ path: String, role: String) throws -> ResultDocument {
    do { return try ResultFile.read(path) } catch let e as ResultFileError {
        switch e {
        case .unreadable: throw CLIError.unreadableResult("\(role): \(e)")
        case .incompatible: throw CLIError.incompatibleSchema("\(role): \(e); re-create it with this version")
        }
    }
}
