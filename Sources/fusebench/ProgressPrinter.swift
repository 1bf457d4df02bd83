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
        // Each run's load counts from 0.
        measureBase = nil
        lastSample = nil
        guard !quiet else { return }
        clear()
        writeStderr("fusebench: \(text)\n")
    }

    /// Operations and errors at the start of the measured phase, so that
    /// the live counts are of measured operations only.
    private var measureBase: (ops: UInt64, errors: UInt64)?
    /// The last sample, for the rate.
    private var lastSample: (t: Double, ops: UInt64)?
    private var rate = 0.0

    func progress(_ p: LoadProgress) {
        guard !quiet else { return }
        if p.phase == "measure" && measureBase == nil { measureBase = (p.ops, p.errors) }
        if p.phase != "measure" { measureBase = nil }
        // A new run counts from 0 again.
        if let base = measureBase, p.ops < base.ops || p.errors < base.errors { measureBase = (p.ops, p.errors) }
        let ops = p.ops - (measureBase?.ops ?? 0), errors = p.errors - (measureBase?.errors ?? 0)
        let now = Date().timeIntervalSince1970
        // A new run counts from 0 again.
        if let last = lastSample, p.ops < last.ops {
            lastSample = nil
            rate = 0
        }
        if let last = lastSample, now - last.t >= 0.5 {
            rate = Double(p.ops &- last.ops) / (now - last.t)
            lastSample = (now, p.ops)
        } else if lastSample == nil {
            lastSample = (now, p.ops)
        }
        let counts = "\(ops) ops, \(errors) errors, \(Self.rate(rate))"
        let where_: String
        if let (running, total) = p.clients {
            // The phase lasts until the clients exit: no length to show.
            where_ = String(format: "%@ %.1fs, clients running: %d of %d", p.phase, p.elapsed, running, total)
        } else {
            where_ = String(format: "%@ %.1f/%.1fs", p.phase, p.elapsed, p.phaseLength)
        }
        let line = "  \(where_), \(counts)"
        if tty {
            writeStderr("\r\u{1B}[K" + line)
        } else if p.phase != lastPhase || Date().timeIntervalSince(lastLine) >= 5 {
            writeStderr(line + "\n")
            lastLine = Date()
        }
        lastPhase = p.phase
    }

    /// "12.3k ops/s".
    static func rate(_ r: Double) -> String {
        r >= 1e6 ? String(format: "%.2fM ops/s", r / 1e6) : r >= 1e3 ? String(format: "%.1fk ops/s", r / 1e3)
            : String(format: "%.0f ops/s", r)
    }

    /// Ends the status line on a terminal.
    func clear() {
        if tty && !lastPhase.isEmpty { writeStderr("\r\u{1B}[K") }
        lastPhase = ""
    }
}
