// One error type for failed system calls inside the server: the errno a
// FUSE reply carries.
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

/// Throws the current errno when `result` is negative.
@inline(__always)
func check(_ result: Int32) throws(SysError) {
    if result < 0 { throw SysError.current }
}

/// Throws the current errno when `result` is negative, else returns it.
@inline(__always)
func checked(_ result: Int32) throws(SysError) -> Int32 {
    if result < 0 { throw SysError.current }
    return result
}

/// The path that names an open descriptor, for calls that take no fd.
@inline(__always)
func procPath(_ fd: Int32) -> String { "/proc/self/fd/\(fd)" }
