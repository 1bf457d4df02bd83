// The short human summary printed at the end of a run.
import Workload
import Foundation
import ResultModel

enum Summary {
    /// Nanoseconds as milliseconds with two decimals (`millisecondsText`).
    static func ms(_ v: Double?) -> String { millisecondsText(v, none: "-") }

    /// A table of every run's operations.
    static func text(_ doc: ResultDocument) -> String {
        var out = doc.partial == true ? "PARTIAL: interrupted; the last run was cut short\n\n" : ""
        for run in doc.runs where run.scenario == nil {
            out += "\(run.workloadName) on \(run.labelText): \(run.threads) threads, "
                + "throughput and latency of successful operations, "
                + String(format: "%.2f s measured", run.measuredSeconds) + "\n"
            out += pad("operation", 10) + pad("ops", 10, right: true) + pad("ops/s", 12, right: true)
                + pad("MiB/s", 9, right: true) + pad("p50", 10, right: true) + pad("p99", 10, right: true)
                + pad("p99.9", 10, right: true) + pad("max", 10, right: true) + pad("failed", 8, right: true)
                + "  errors\n"
            let rows = run.operations.sorted { $0.key < $1.key } + [("total", run.total)]
            for (name, r) in rows {
                let errs = r.errors.isEmpty ? "0"
                    : r.errors.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
                out += pad(name, 10) + pad("\(r.count)", 10, right: true)
                    + pad(String(format: "%.0f", r.throughput.value), 12, right: true)
                    + pad(String(format: "%.1f", r.bandwidth.value / 1_048_576), 9, right: true)
                    + pad(ns(r.latency.p50), 10, right: true) + pad(ns(r.latency.p99), 10, right: true)
                    + pad(ns(r.latency.p999), 10, right: true) + pad(ns(r.latency.max), 10, right: true)
                    + pad("\(r.errorCount)", 8, right: true) + "  " + errs + "\n"
            }
            if let s = run.server {
                let top = s.opcodes.sorted { $0.value.count > $1.value.count }.prefix(6)
                    .map { "\($0.key) \($0.value.count)" }.joined(separator: ", ")
                out += "server: " + (s.fuseProtocol.map { "FUSE \($0), " } ?? "")
                    + "\(s.requests) requests (\(top))\n"
                if let opens = s.passthroughOpens, opens > 0 {
                    out += "passthrough: \(opens) opens, \(s.passthroughReused ?? 0) of them on a backing file "
                        + "registered before, \(s.backingFilesRegistered ?? 0) registered\n"
                }
            }
            if let a = run.accounting, a.totalOperations > 0 {
                // Two lines that fit 120 columns: the top five opcodes, then bytes and the check.
                let top = a.opcodes.sorted { $0.value.received > $1.value.received }.prefix(5)
                    .map { "\($0.key) \(String(format: "%.3f", $0.value.perOperation))" }.joined(separator: ", ")
                out += "per operation (\(a.totalOperations) issued): "
                    + String(format: "%.3f requests (%@)\n", a.requestsPerOperation, top)
                    + String(format: "  %.0f B in, %.0f B out; ", a.requestBytesPerOperation, a.replyBytesPerOperation)
                    + (a.discrepancies.isEmpty ? "every request read was answered"
                       : "read but not answered: " + a.discrepancies.joined(separator: ", ")) + "\n"
            }
            out += "\n"
        }
        out += repeatsTable(doc.runs)
        let faulted = doc.runs.filter { $0.faults != nil }
        if doc.runs.contains(where: { $0.sweep != nil }) {
            out += sweepTable(faulted)
        } else if !faulted.isEmpty {
            out += strategyTable(faulted)
        }
        if let fits = doc.fits { out += fitText(fits) }
        if let matrix = doc.matrix { out += matrixText(matrix, doc.runs) }
        if let cells = doc.clientMatrix { out += clientText(cells) }
        if let card = doc.scorecard { out += scorecardText(card) }
        if let cs = doc.comparisons {
            var pairs: [String] = []
            for c in cs where !pairs.contains("\(c.target) / \(c.baseline)") { pairs.append("\(c.target) / \(c.baseline)") }
            let width = max(14, (cs.map(\.workload.count).max() ?? 0) + 2)
            for pair in pairs {
                out += "\(pair) (median of repeats):\n"
                out += pad("workload", width) + pad("throughput", 12, right: true) + pad("p50", 10, right: true)
                    + pad("p99", 10, right: true) + pad("U test p", 10, right: true) + "\n"
                for c in cs where "\(c.target) / \(c.baseline)" == pair {
                    func r(_ k: String) -> String { c.ratios[k].map { String(format: "%.2fx", $0.value) } ?? "-" }
                    out += pad(c.workload, width) + pad(r("throughput"), 12, right: true)
                        + pad(r("latencyP50"), 10, right: true) + pad(r("latencyP99"), 10, right: true)
                        + pad(c.throughputP.map { String(format: "%.3f", $0) } ?? "-", 10, right: true) + "\n"
                }
            }
        }
        return out
    }

    /// Over the trials of each repeated run (--repeat): throughput median,
    /// mean and standard deviation, and the medians of p50 and p99.
    static func repeatsTable(_ runs: [RunResult]) -> String {
        let repeated = runs.filter { $0.trial != nil && $0.scenario == nil }
        guard !repeated.isEmpty else { return "" }
        var order: [String] = []
        var groups: [String: [RunResult]] = [:]
        for r in repeated {
            var untried = r
            untried.trial = nil
            let key = "\(r.workloadName) on \(untried.labelText)"
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(r)
        }
        let width = max(20, (order.map(\.count).max() ?? 0) + 2)
        var out = "over the trials (--repeat):\n" + pad("run", width) + pad("trials", 7, right: true)
            + pad("ops/s median", 14, right: true) + pad("mean ± sd", 20, right: true)
            + pad("p50 median", 12, right: true) + pad("p99 median", 12, right: true) + pad("failed", 8, right: true) + "\n"
        for key in order {
            let rs = groups[key]!
            let t = rs.map(\.total.throughput.value)
            let (mean, sd) = Statistics.meanAndDeviation(t)
            func median(_ v: [Double]) -> Double { Statistics.median(v) ?? .nan }
            out += pad(key, width) + pad("\(rs.count)", 7, right: true)
                + pad(String(format: "%.0f", median(t)), 14, right: true)
                + pad(String(format: "%.0f ± %.0f", mean, sd), 20, right: true)
                + pad(ns(UInt64(median(rs.map { Double($0.total.latency.p50) }))), 12, right: true)
                + pad(ns(UInt64(median(rs.map { Double($0.total.latency.p99) }))), 12, right: true)
                + pad("\(rs.map(\.total.errorCount).reduce(0, +))", 8, right: true) + "\n"
        }
        return out + "\n"
    }

    /// Scenarios down, strategies across, pass or fail; then what failed.
    /// The scorecard: a row per strategy, node-id stability, the verdict.
    static func scorecardText(_ card: Scorecard) -> String {
        var out = "scorecard of \(card.server)" + (card.command.map { " (\($0))" } ?? "") + ":\n"
        out += pad("strategy", 18) + pad("verdict", 23) + pad("outage ms", 10, right: true) + pad("stall ms", 10, right: true)
            + pad("errors", 8, right: true) + pad("integrity", 10, right: true) + pad("deaths", 7, right: true)
            + pad("hazards", 9, right: true) + pad("programs", 10, right: true) + "\n"
        for s in card.strategies {
            let total = s.hazardsPassed.count + s.hazardsFailed.count
            out += pad(s.strategy, 18) + pad(s.verdict, 23) + pad(ms(s.outage), 10, right: true)
                + pad(ms(s.stall), 10, right: true) + pad("\(s.applicationErrors)", 8, right: true)
                + pad(s.integrity ?? "-", 10, right: true) + pad("\(s.deaths)", 7, right: true)
                + pad(total == 0 ? "-" : "\(s.hazardsPassed.count)/\(total)", 9, right: true)
                + pad(s.clients.map { "\($0 - (s.clientsFailed?.count ?? 0))/\($0)" } ?? "-", 10, right: true) + "\n"
        }
        for s in card.strategies where !s.needs.isEmpty {
            out += "  \(s.strategy) needs: " + s.needs.joined(separator: "; ") + "\n"
        }
        if !card.nodeIdStability.isEmpty {
            out += "node-id stability (ids the kernel held across the restart, resolved by the next instance):\n"
            for n in card.nodeIdStability {
                out += "  \(n.strategy): " + (n.failure.map { "the server failed: \($0)" }
                    ?? "\(n.resolved) of \(n.filesProbed) resolved, \(n.errors) errors, \(n.wrongFile) read another file"
                        + (n.unknownNodeIds.map { ", \($0) unknown to the new instance (looked up again)" } ?? ""))
                    + "\n"
            }
        }
        return out + "verdict: \(card.verdict)\n\n"
    }

    static func matrixText(_ cells: [MatrixCell], _ runs: [RunResult]) -> String {
        let (scenarios, strategies) = MatrixCell.axes(cells)
        let width = max(16, (scenarios.map(\.count).max() ?? 0) + 2)
        let transports = Set(runs.compactMap { StrategySummary.transport($0.server) }).sorted()
        var out = "hazard scenarios (pass: the expected outcome held"
            + (transports.isEmpty ? "" : "; transport: " + transports.joined(separator: ", ")) + "):\n"
            + pad("scenario", width)
        let col = max(10, (strategies.map { $0.replacingOccurrences(of: "handover-", with: "").count }.max() ?? 0) + 2)
        for s in strategies { out += pad(s.replacingOccurrences(of: "handover-", with: ""), col, right: true) }
        out += "\n"
        for sc in scenarios {
            out += pad(sc, width)
            for st in strategies {
                let mine = cells.filter { $0.scenario == sc && $0.strategy == st }
                let word = mine.isEmpty ? "-" : mine.allSatisfy { $0.outcome == "pass" } ? "pass"
                    : mine.contains { $0.outcome == "fail" } ? "FAIL" : "inconcl."
                out += pad(word, col, right: true)
            }
            out += "\n"
        }
        for c in cells where c.outcome != "pass" {
            out += "  \(c.scenario) / \(c.strategy): \(c.outcome): \(c.detail.joined(separator: ", "))\n"
        }
        // Why scenarios hung, each reason once.
        var reasons: [String] = []
        for r in runs { if let h = r.scenario?.hung, !reasons.contains(h) { reasons.append(h) } }
        for h in reasons { out += "  hung: \(h)\n" }
        // How the server died, per strategy (each text once).
        var deaths: [String] = []
        for r in runs {
            if let d = r.scenario?.died {
                let line = "\(r.strategy ?? "-"): \(d)"
                if !deaths.contains(line) { deaths.append(line) }
            }
        }
        for d in deaths { out += "  died: \(d)\n" }
        return out
    }

    /// Clients down, strategies (or targets) across: pass or FAIL with the
    /// seconds the client ran and the faults it saw; then what failed.
    static func clientText(_ cells: [ClientCell]) -> String {
        let (rows, columns) = ClientCell.axes(cells)
        let width = max(12, (rows.map(\.count).max() ?? 0) + 2)
        var out = "clients (pass: setup, run and verify exited 0; seconds the run took, faults during it):\n"
            + pad("client", width)
        for c in columns { out += pad(c.replacingOccurrences(of: "handover-", with: ""), 15, right: true) }
        out += "\n"
        for row in rows {
            out += pad(row, width)
            for col in columns {
                let mine = cells.filter { $0.client == row && $0.column == col }
                guard !mine.isEmpty else { out += pad("-", 15, right: true); continue }
                let word = mine.allSatisfy { $0.outcome == "pass" } ? "pass" : "FAIL"
                let secs = mine.compactMap(\.seconds).sorted()
                let median = secs.isEmpty ? "-" : String(format: "%.1fs", secs[secs.count / 2])
                let faults = mine.map(\.faultsDuring).max() ?? 0
                out += pad("\(word) \(median) \(faults)f", 15, right: true)
            }
            out += "\n"
        }
        for c in cells where c.outcome != "pass" {
            out += "  \(c.client) / \(c.column)\(c.trial.map { " (trial \($0))" } ?? ""): \(c.detail ?? "failed")\n"
        }
        return out
    }

    /// One row per strategy: outage, stall, recovery (medians over the
    /// faults that fired), errors, resent requests and integrity.
    static func strategyTable(_ runs: [RunResult]) -> String {
        var out = "strategies side by side (medians over faults; times in ms):\n"
        let width = max(18, (runs.map { StrategySummary($0).strategy.count }.max() ?? 0) + 2)
        out += pad("strategy", width) + pad("transport", 22) + pad("faults", 7, right: true) + pad("outage", 9, right: true)
            + pad("resume", 9, right: true) + pad("stall", 9, right: true) + pad("waited", 9, right: true)
            + pad("recover", 9, right: true) + pad("control", 9, right: true)
            + pad("app errors", 12, right: true) + pad("resent", 8, right: true) + pad("recognised", 11, right: true)
            + pad("integrity", 11, right: true) + (runs.contains { $0.clients != nil } ? pad("clients failed", 16, right: true) : "")
            + "\n"
        for s in runs.map(StrategySummary.init) {
            out += pad(s.strategy, width) + pad(s.transport ?? "-", 22) + pad("\(s.faults)", 7, right: true)
                + pad(ms(s.outage), 9, right: true) + pad(ms(s.resume), 9, right: true)
                + pad(ms(s.stall), 9, right: true) + pad(ms(s.waited), 9, right: true) + pad(ms(s.recovery), 9, right: true)
                + pad(ms(s.recoveryControl), 9, right: true)
                + pad("\(s.applicationErrors)", 12, right: true) + pad("\(s.resent)", 8, right: true)
                + pad("\(s.recognised)", 11, right: true) + pad(s.integrity ?? "-", 11, right: true)
                + (runs.contains { $0.clients != nil } ? pad(s.clientsFailed ?? "-", 16, right: true) : "") + "\n"
        }
        for s in runs.map(StrategySummary.init) where s.deaths > 0 || s.abandoned != nil {
            out += "  \(s.strategy): the server died on its own \(s.deaths) time(s) after a restart, and was restarted"
                + (s.abandoned.map { "; run given up: \($0)" } ?? "") + "\n"
        }
        out += "(outage: fault to the new server's first reply; resume: to the first blocked operation completing;\n"
        out += " stall: longest operation caught by a fault, start to end; waited: from the fault until the last\n"
        out += " operation it caught was done; recover: to the first 50 ms back at 90 % of the prior throughput\n"
        out += " (a fault not back before the next counts as longer than any);\n"
        out += " control: recover measured halfway between faults, where nothing happened: the load's own swings;\n"
        out += " app errors: failed operations of the synthetic load over the whole run)\n\n"
        out += handoverTable(runs)
        out += stallTable(runs)
        return out
    }

    /// Where each fault's longest stall went: before the fault, from the
    /// fault to the resend, after it (medians over the faults, ms).
    static func stallTable(_ runs: [RunResult]) -> String {
        let rows = runs.map(StrategySummary.init).filter { !$0.stalledOperations.isEmpty }
        guard !rows.isEmpty else { return "" }
        let width = max(18, (rows.map(\.strategy.count).max() ?? 0) + 2)
        var out = "where the longest stall goes (medians over faults; ms):\n"
        out += pad("strategy", width) + pad("stall", 9, right: true) + pad("before", 9, right: true)
            + pad("to resend", 11, right: true) + pad("after", 9, right: true) + pad("resent done", 13, right: true)
            + "  operations\n"
        for s in rows {
            out += pad(s.strategy, width) + pad(ms(s.stall), 9, right: true) + pad(ms(s.stallBeforeFault), 9, right: true)
                + pad(ms(s.stallUntilResend), 11, right: true) + pad(ms(s.stallAfterResend), 9, right: true)
                + pad(ms(s.resentAnsweredAfterResend), 13, right: true) + "  " + s.stalledOperationsText + "\n"
        }
        out += "(the operation each fault stalled longest: before: its time before the fault; to resend: after the fault\n"
        out += " until FUSE_NOTIFY_RESEND (all of its time after the fault without a handover); after: from the resend to\n"
        out += " its end, served again by the new server; resent done: from the resend to the new server's last reply to a\n"
        out += " request it re-delivered; operations: which they were)\n\n"
        return out
    }

    /// Where a handover's time goes: the marks of the median handover of
    /// each run (µs after the fault), and the floor's medians.
    static func handoverTable(_ runs: [RunResult]) -> String {
        let rows = runs.map(StrategySummary.init).filter { $0.medianHandover != nil }
        guard !rows.isEmpty else { return "" }
        func us(_ v: Double?) -> String { v.map { String(format: "%.0f", $0 / 1e3) } ?? "-" }
        let width = max(18, (rows.map(\.strategy.count).max() ?? 0) + 2)
        var out = "where a handover's time goes (the median handover; µs after the fault):\n"
        out += pad("strategy", width)
        for h in ["noticed", "threads out", "resend", "go", "gate", "1st request", "1st reply", "floor", "keeper", "standby", "kernel"] {
            out += pad(h, 12, right: true)
        }
        out += "\n"
        for s in rows {
            let h = s.medianHandover!
            out += pad(s.strategy, width)
            for v in [h.deathNoticed.value, h.threadsOut.value, h.resendSent.value, h.goSent?.value, h.gatePassed?.value,
                      h.firstRequestRead?.value, h.firstReply?.value, s.floor, s.keeperPart, s.standbyPart,
                      s.kernelPart] {
                out += pad(us(v), 12, right: true)
            }
            out += "\n"
        }
        out += "(noticed: the harness knew of the death; threads out: no thread of the dead server could take a request;\n"
        out += " go: the warm standby let go, at the death notice where its gate has no work that needs the dead server\n"
        out += " quiet, else after the resend; gate: it is through its gate; floor: fault to the first request in the new\n"
        out += " server's hands, medians over the faults, of which keeper: fault to go; standby: go to its gate open,\n"
        out += " waking it and the state or storm it takes on there; kernel: gate to the request read)\n\n"
        return out
    }

    /// One row per sweep point and strategy.
    static func sweepTable(_ runs: [RunResult]) -> String {
        var out = "revalidation after a restart, by cached inodes (times in ms):\n"
        let rows = SweepRow.rows(runs)
        let width = max(18, (rows.map(\.strategy.count).max() ?? 0) + 2)
        out += pad("strategy", width) + pad("inodes", 9, right: true) + pad("outage", 9, right: true)
            + pad("storm", 9, right: true) + pad("notifies", 10, right: true) + pad("all usable", 12, right: true)
            + pad("LOOKUP+GETATTR", 16, right: true) + pad("p99 after us", 14, right: true)
            + pad("slab B/inode", 14, right: true) + "\n"
        for row in rows {
            out += pad(row.strategy, width) + pad("\(row.inodes)", 9, right: true) + pad(ms(row.outage), 9, right: true)
                + pad(ms(row.storm), 9, right: true) + pad("\(row.notifications)", 10, right: true)
                + pad(ms(row.allUsable), 12, right: true) + pad("\(row.lookups)", 16, right: true)
                + pad(String(format: "%.1f", Double(row.p99After) / 1e3), 14, right: true)
                + pad(row.slabPerInode.map { String(format: "%.0f", $0) } ?? "-", 14, right: true) + "\n"
        }
        return out + "(outage: kill to the new server's first reply, '-' when no request reached it; storm: server time\n"
            + " invalidating; all usable: stat of every cached file after the restart; LOOKUP+GETATTR: requests it caused)\n\n"
    }

    /// The fitted cost per inode, and whether each strategy stays flat.
    static func fitText(_ fits: [LinearFit]) -> String {
        var out = "fitted against cached inodes (least squares):\n"
        let width = max(18, (fits.map(\.strategy.count).max() ?? 0) + 2)
        for f in fits {
            out += "  " + pad(f.strategy, width) + pad(f.metric, 22) + f.perInode + " per inode" + String(format: "  (r2 %.2f, %d points)", f.r2, f.points) + "\n"
        }
        for (s, fs) in Dictionary(grouping: fits, by: \.strategy).sorted(by: { $0.key < $1.key }) {
            guard let req = fs.first(where: { $0.metric == "revalidationRequests" }) else { continue }
            out += "  \(s): " + (abs(req.slope) < 0.01 ? "flat in N (no revalidation requests per cached inode)"
                                 : String(format: "grows with N: %.2f revalidation requests per cached inode", req.slope)) + "\n"
        }
        return out + "\n"
    }

    /// Nanoseconds in a readable unit.
    static func ns(_ v: UInt64) -> String {
        switch v {
        case ..<10_000: return "\(v)ns"
        case ..<10_000_000: return String(format: "%.1fus", Double(v) / 1e3)
        case ..<10_000_000_000: return String(format: "%.1fms", Double(v) / 1e6)
        default: return String(format: "%.1fs", Double(v) / 1e9)
        }
    }

    static func pad(_ s: String, _ n: Int, right: Bool = false) -> String {
        let p = String(repeating: " ", count: max(0, n - s.count))
        return right ? p + s : s + p
    }
}
