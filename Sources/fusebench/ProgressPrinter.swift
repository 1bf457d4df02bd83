// Progress on standard error: one rewritten status line on a terminal,
// plain step lines otherwise (CI logs).
import Workload
import Foundation
import LoadGen
import ResultModel
import Supervisor

/// Prints run progress.
final class ProgressPrinter: RunReporter {
    private let quiet: Bool
    private let tty = stderrIsTerminal
    private var lastLine = Date.distantPast
    private var lastPhase = ""

    init(quiet: Bool) { self.quiet = quiet }

    func phase(_ text: String) {
        guard !quiet else { return }
        clear()
        writeStderr("fusebench: \(text)\n")
    }

    func progress(_ p: LoadProgress) {
        guard !quiet else { return }
        if let (running, total) = p.clients {
            // The phase lasts until the clients exit: no length to show.
            let line = String(format: "  %@ %.1fs, clients running: %d of %d, %@ ops, %@ errors", p.phase, p.elapsed,
                              running, total, "\(p.ops)", "\(p.errors)")
            if tty {
                writeStderr("\r\u{1B}[K" + line)
            } else if p.phase != lastPhase || Date().timeIntervalSince(lastLine) >= 5 {
                writeStderr(line + "\n")
                lastLine = Date()
            }
            lastPhase = p.phase
            return
        }
        if tty {
            let line = String(format: "  %@ %5.1f/%.1fs  %@ ops  %@ errors", p.phase, p.elapsed, p.phaseLength,
                              "\(p.ops)", "\(p.errors)")
            writeStderr("\r\u{1B}[K" + line)
        } else if p.phase != lastPhase || Date().timeIntervalSince(lastLine) >= 5 {
            writeStderr("  \(p.phase): \(String(format: "%.1f", p.elapsed))s of \(String(format: "%.1f", p.phaseLength))s, "
                        + "\(p.ops) ops, \(p.errors) errors\n")
            lastLine = Date()
        }
        lastPhase = p.phase
    }

    /// Ends the status line on a terminal.
    func clear() {
        if tty && !lastPhase.isEmpty { writeStderr("\r\u{1B}[K") }
        lastPhase = ""
    }
}
