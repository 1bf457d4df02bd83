// Unbuffered writes to standard error, usable from any thread.
import Glibc

/// Writes `text` to standard error.
public func writeStderr(_ text: String) {
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
