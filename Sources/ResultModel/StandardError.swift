// Unbuffered writes to standard error, usable from any thread.
import Glibc

/// Writes `text` to standard error, after what standard output holds
/// (buffered when it is a file or a pipe: a summary and a note written to
/// both, `2>&1`, would otherwise mix mid-line).
public func writeStderr(_ text: String) {
    fflush(nil)
    var t = text
    t.withUTF8 { buf in
        var off = 0
        while off < buf.count {
            let n = write(2, buf.baseAddress! + off, buf.count - off)
            if n < 0 { if errno == EINTR { continue }; return }
            off += n
        }
    }
}

/// Whether standard error is a terminal.
public var stderrIsTerminal: Bool { isatty(2) == 1 }
