// Symbolic errno names ("ENOENT") for results and messages.
import CFuseShim
import Glibc

/// The symbolic name of an errno value, or "E<number>" when unknown.
public func errnoName(_ code: Int32) -> String {
    if let p = fbshim_errno_name(code) { return String(cString: p) }
    return "E\(code)"
}

/// "ENOENT (No such file or directory)".
public func errnoText(_ code: Int32) -> String {
    "\(errnoName(code)) (\(String(cString: strerror(code))))"
}
