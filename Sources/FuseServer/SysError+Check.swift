// Helpers of the server's system calls: throw the errno of a failed call.
import Contract
import Glibc

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
