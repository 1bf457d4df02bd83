// One error type for failed system calls, on both sides of the contract:
// the errno a FUSE reply carries.
import Glibc

/// A failed system call's errno.
public struct SysError: Error, Equatable, Sendable {
    /// The errno value (positive).
    public let code: Int32
    /// Wraps an errno.
    public init(_ code: Int32) { self.code = code }
    /// The current errno.
    public static var current: SysError { SysError(errno) }
}
