// A self-contained HTML page for a result: inline SVG, no scripts, no
// network. Throughput over time (one line per run, faults marked), a zoom
// on the first fault of each run side by side, latency percentiles per
// operation, and the strategy comparison.
import Foundation

/// `ns` as milliseconds with two decimals; "not back" for infinity (a
/// recovery median over faults most of which were not back); `none` for nil.
/// The text summary's and the report's tables.
public func millisecondsText(_ ns: Double?, none: String) -> String {
    guard let ns else { return none }
    return ns.isInfinite ? "not back" : String(format: "%.2f", ns / 1e6)
}

/// Renders a result document as HTML.
public enum HTMLReport {
    /// Nanoseconds as milliseconds with two decimals (`millisecondsText`).
    static func ms(_ v: Double?) -> String { millisecondsText(v, none: "–") }

    /// Series colours; red, the colour of alarm, comes last.
    static let palette = ["#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#17becf", "#8c564b", "#e377c2", "#7f7f7f",
                          "#bcbd22", "#d62728"]

    /// The page.
    public static func render(_ doc: ResultDocument, title: String) -> String {
        var body = "<h1>\(esc(title))</h1>\n"
        body += "<p class=meta>fusebench \(esc(doc.tool.version)) \(esc(doc.tool.gitRevision ?? "")) · "
            + "\(esc(doc.createdAt)) · \(esc(doc.environment.kernel)) · libfuse \(esc(doc.environment.libfuse)) · "
            + "\(doc.environment.cpuCount) × \(esc(doc.environment.cpuModel))</p>\n"
        if let card = doc.scorecard { body += scorecardSection(card) }
        if let matrix = doc.matrix { body += matrixTable(matrix) }
        if let cells = doc.clientMatrix { body += clientTable(cells) }
        let byWorkload = Dictionary(grouping: doc.runs.filter { $0.scenario == nil }, by: \.workloadName)
        for (name, runs) in byWorkload.sorted(by: { $0.key < $1.key }) {
            body += "<h2>\(esc(name))</h2>\n" + configuration(runs)
            if runs.contains(where: { $0.primedFiles != nil && $0.faults?.contains { $0.revalidationSweep != nil } == true }) {
                body += "<h3>Storm against lazy: time until every cached file is usable again after a restart (ms)</h3>\n"
                body += revalidationCurve(runs)
                body += sweepTables(runs, fits: (doc.fits ?? []))
            }
            // Real programs only: no synthetic operations to chart.
            let synthetic = runs.contains { $0.threads > 0 }
            let faulted = runs.contains(where: { $0.faults?.contains(where: \.triggered) == true })
            if synthetic {
                body += "<h3>Every run: successful operations, throughput, latency, failures</h3>\n" + runTable(runs)
                body += "<h3>Successful operations per second over the measured phase (100 ms steps; dashed lines: faults)</h3>\n"
                body += timelineChart(runs)
                if let errors = errorChart(runs) {
                    body += "<h3>Failed operations per second (100 ms steps; dashed lines: faults)</h3>\n" + errors
                }
            }
            if faulted && synthetic {
                body += "<h3>Around the first fault: successful operations per second (\(zoomStepMs(runs)) ms steps, aligned on the fault)</h3>\n"
                body += faultZoom(runs)
            }
            if faulted { body += strategyTable(runs) }
            if synthetic {
                body += "<h3>Latency percentiles per operation (log scale)</h3>\n"
                body += latencyChart(runs)
            }
        }
        if let comparisons = doc.comparisons, !comparisons.isEmpty {
            body += "<h2>Ratios</h2>\n<table><tr><th>workload</th><th>metric</th><th>target / baseline</th></tr>\n"
            for c in comparisons {
                for (k, m) in c.ratios.sorted(by: { $0.key < $1.key }) {
                    body += "<tr><td>\(esc(c.workload))</td><td>\(esc(k))</td><td>\(String(format: "%.3f", m.value))</td></tr>\n"
                }
            }
            body += "</table>\n"
        }
        return """
            <!doctype html>
            <html lang=en><head><meta charset=utf-8><title>\(esc(title))</title>
            <style>
            body{font:14px/1.4 sans-serif;margin:24px;color:#222;max-width:1100px}
            h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ccc;margin-top:32px}h3{font-size:14px;margin:18px 0 4px}
            .meta{color:#666}table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
            th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}svg{background:#fff}
            .legend span{display:inline-block;margin-right:14px}.legend i{display:inline-block;width:18px;height:3px;margin-right:4px;vertical-align:middle}
            </style></head><body>
            \(body)
            </body></html>
            """
    }

    /// Hazard scenarios down, strategies across; a cell says pass or fail
    /// and, on hover, the failed checks.
    /// The scorecard: the verdict first, then a row per strategy and the
    /// node-id stability.
    static func scorecardSection(_ card: Scorecard) -> String {
        var out = "<h2>Scorecard: \(esc(card.server))</h2>\n<p><b>\(esc(card.verdict))</b></p>\n"
        if let c = card.command { out += "<p class=meta>command: <code>\(esc(c))</code></p>\n" }
        out += "<table><tr><th>strategy</th><th>verdict</th><th>outage ms</th><th>stall ms</th><th>app errors</th>"
            + "<th>integrity</th><th>deaths</th><th>hazards passed</th><th>programs passed</th><th>would need</th></tr>\n"
        for s in card.strategies {
            let color = s.verdict == "supported" ? "#d8f0d8" : s.verdict == "not supported" ? "#f6d0d0" : "#f6ecc8"
            let total = s.hazardsPassed.count + s.hazardsFailed.count
            out += "<tr><td>\(esc(s.strategy))</td><td style=\"background:\(color)\">\(esc(s.verdict))</td>"
                + "<td>\(ms(s.outage))</td><td>\(ms(s.stall))</td><td>\(s.applicationErrors)</td>"
                + "<td>\(esc(s.integrity ?? "–"))</td><td>\(s.deaths)</td>"
                + "<td title=\"failed: \(esc(s.hazardsFailed.joined(separator: ", ")))\">"
                + (total == 0 ? "–" : "\(s.hazardsPassed.count) of \(total)") + "</td>"
                + "<td title=\"failed: \(esc((s.clientsFailed ?? []).joined(separator: ", ")))\">"
                + (s.clients.map { "\($0 - (s.clientsFailed?.count ?? 0)) of \($0)" } ?? "–") + "</td>"
                + "<td style=\"text-align:left\"><small>\(esc(s.needs.joined(separator: "; ")))</small></td></tr>\n"
        }
        out += "</table>\n"
        if !card.nodeIdStability.isEmpty {
            out += "<h3>Node-id stability: ids the kernel held across the restart, resolved by the next instance</h3>\n"
                + "<table><tr><th>strategy</th><th>files</th><th>resolved</th><th>errors</th><th>another file</th>"
                + "<th>server failure</th></tr>\n"
            for n in card.nodeIdStability {
                func count(_ v: Int) -> String { n.failure == nil ? "\(v)" : "–" }
                out += "<tr><td>\(esc(n.strategy))</td><td>\(count(n.filesProbed))</td><td>\(count(n.resolved))</td>"
                    + "<td>\(count(n.errors))</td><td>\(count(n.wrongFile))</td>"
                    + "<td style=\"text-align:left\">\(esc(n.failure ?? "–"))</td></tr>\n"
            }
            out += "</table>\n"
        }
        return out
    }

    static func matrixTable(_ cells: [MatrixCell]) -> String {
        let (scenarios, strategies) = MatrixCell.axes(cells)
        var out = "<h2>Hazard scenarios: expected outcome held (pass) or not</h2>\n<table><tr><th>scenario</th>"
        for st in strategies { out += "<th>\(esc(st))</th>" }
        out += "</tr>\n"
        for sc in scenarios {
            out += "<tr><td>\(esc(sc))</td>"
            for st in strategies {
                guard let c = cells.first(where: { $0.scenario == sc && $0.strategy == st }) else { out += "<td>–</td>"; continue }
                let color = c.outcome == "pass" ? "#d8f0d8" : c.outcome == "fail" ? "#f6d0d0" : "#eee"
                out += "<td style=\"background:\(color)\" title=\"\(esc(c.detail.joined(separator: "; ")))\">"
                    + "\(esc(c.outcome))\(c.detail.isEmpty ? "" : "<br><small>\(esc(c.detail.joined(separator: ", ")))</small>")</td>"
            }
            out += "</tr>\n"
        }
        return out + "</table>\n"
    }

    /// Clients down, strategies (or targets) across: pass or fail, the
    /// seconds the client ran and the faults during it; failures say why.
    static func clientTable(_ cells: [ClientCell]) -> String {
        let (rows, columns) = ClientCell.axes(cells)
        var out = "<h2>Clients: real programs under the faults (pass: setup, run and verify exited 0)</h2>\n"
            + "<table><tr><th>client</th>"
        for c in columns { out += "<th>\(esc(c))</th>" }
        out += "</tr>\n"
        for row in rows {
            out += "<tr><td>\(esc(row))</td>"
            for col in columns {
                let mine = cells.filter { $0.client == row && $0.column == col }
                guard let first = mine.first else { out += "<td>–</td>"; continue }
                let passed = mine.allSatisfy { $0.outcome == "pass" }
                let detail = mine.compactMap(\.detail).joined(separator: "; ")
                let secs = first.seconds.map { String(format: "%.2f s", $0) } ?? "–"
                out += "<td style=\"background:\(passed ? "#d8f0d8" : "#f6d0d0")\" title=\"\(esc(detail))\">"
                    + "\(passed ? "pass" : "fail")<br><small>\(secs), \(first.faultsDuring) faults"
                    + (detail.isEmpty ? "" : "<br>\(esc(detail.count > 90 ? detail.prefix(87) + "..." : detail))")
                    + "</small></td>"
            }
            out += "</tr>\n"
        }
        return out + "</table>\n"
    }

    static func esc(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    static func label(_ r: RunResult) -> String { r.labelText }

    static func legend(_ runs: [RunResult]) -> String {
        "<div class=legend>" + runs.enumerated().map { i, r in
            "<span><i style=\"background:\(palette[i % palette.count])\"></i>\(esc(label(r)))</span>"
        }.joined() + "</div>\n"
    }

    /// Polyline chart: x in seconds, y in ops/s.
    static func lineChart(_ series: [(points: [(Double, Double)], color: String)], xRange: ClosedRange<Double>,
                          marks: [(Double, String)], xLabel: String,
                          xTicks: [(Double, String)]? = nil) -> String {
        let w = 1000.0, h = 270.0, left = 60.0, bottom = 40.0, top = 10.0, right = 10.0
        let yMax = max(1, series.flatMap { $0.points.map(\.1) }.max() ?? 1) * 1.08
        func x(_ v: Double) -> Double { left + (v - xRange.lowerBound) / max(1e-9, xRange.upperBound - xRange.lowerBound) * (w - left - right) }
        func y(_ v: Double) -> Double { h - bottom - v / yMax * (h - bottom - top) }
        var svg = "<svg viewBox=\"0 0 \(Int(w)) \(Int(h))\" width=\"100%\" role=img>\n"
        for i in 0...4 {
            let v = yMax * Double(i) / 4
            svg += "<line x1=\(left) x2=\(w - right) y1=\(y(v)) y2=\(y(v)) stroke=#eee />"
            svg += "<text x=\(left - 6) y=\(y(v) + 4) font-size=11 text-anchor=end>\(Self.short(v))</text>\n"
        }
        let ticks = xTicks ?? (0...5).map { i -> (Double, String) in
            let v = xRange.lowerBound + (xRange.upperBound - xRange.lowerBound) * Double(i) / 5
            return (v, abs(v) >= 10 ? String(format: "%.0f", v) : String(format: "%.3g", v))
        }
        for (v, text) in ticks {
            // A label at either end of the axis is anchored inside the chart, not cut at its edge.
            let anchor = x(v) > w - right - 20 ? "end" : x(v) < left + 20 ? "start" : "middle"
            svg += "<text x=\(x(v)) y=\(h - 14) font-size=11 text-anchor=\(anchor)>\(esc(text))</text>\n"
        }
        svg += "<text x=\(w - right) y=\(h - 3) font-size=11 text-anchor=end>\(esc(xLabel))</text>\n"
        for (t, color) in marks {
            svg += "<line x1=\(x(t)) x2=\(x(t)) y1=\(top) y2=\(h - bottom) stroke=\(color) stroke-dasharray=\"4 3\" stroke-width=1 />\n"
        }
        for s in series where !s.points.isEmpty {
            let pts = s.points.map { String(format: "%.1f,%.1f", x($0.0), y($0.1)) }.joined(separator: " ")
            svg += "<polyline fill=none stroke=\(s.color) stroke-width=1.5 points=\"\(pts)\" />\n"
        }
        svg += "<line x1=\(left) x2=\(left) y1=\(top) y2=\(h - bottom) stroke=#999 /><line x1=\(left) x2=\(w - right) y1=\(h - bottom) y2=\(h - bottom) stroke=#999 />"
        return svg + "</svg>\n"
    }

    static func short(_ v: Double) -> String {
        v >= 1e6 ? String(format: "%.1fM", v / 1e6) : v >= 1e4 ? String(format: "%.0fk", v / 1e3)
            : v >= 1e3 ? String(format: "%.1fk", v / 1e3) : String(format: "%.0f", v)
    }

    /// Operations per second in steps of `stepMs` (or the timeline's
    /// coarser buckets), each at the middle of its step, in seconds from the
    /// start of the measured phase.
    static func rates(_ counts: [UInt64], bucketMs: Int, stepMs: Int) -> [(Double, Double)] {
        let step = max(1, stepMs / bucketMs), bucket = Double(bucketMs) / 1000
        return stride(from: 0, to: counts.count, by: step).map { b in
            let chunk = counts[b..<min(b + step, counts.count)]
            return (Double(b) * bucket + bucket * Double(step) / 2, Double(chunk.reduce(0, +)) / (Double(chunk.count) * bucket))
        }
    }

    static func timelineChart(_ runs: [RunResult]) -> String {
        var series: [(points: [(Double, Double)], color: String)] = []
        var marks: [(Double, String)] = []
        var xMax = 0.0
        for (i, r) in runs.enumerated() {
            let color = palette[i % palette.count]
            series.append((rates(r.timeline.succeeded, bucketMs: r.timeline.bucketMs, stepMs: 100), color))
            xMax = max(xMax, r.measuredSeconds)
            for f in r.faults ?? [] where f.triggered { marks.append((f.atSeconds, color)) }
        }
        return lineChart(series, xRange: 0...max(xMax, 0.01), marks: marks, xLabel: "seconds") + legend(runs)
    }

    /// Failed operations per second over the measured phase (100 ms steps),
    /// one line per run that had any; nil when none failed.
    static func errorChart(_ runs: [RunResult]) -> String? {
        guard runs.contains(where: { $0.total.errorCount > 0 }) else { return nil }
        var series: [(points: [(Double, Double)], color: String)] = []
        var xMax = 0.0
        for (i, r) in runs.enumerated() {
            let pts = r.total.errorCount > 0 ? rates(r.timeline.errors, bucketMs: r.timeline.bucketMs, stepMs: 100) : []
            series.append((pts, palette[i % palette.count]))
            xMax = max(xMax, r.measuredSeconds)
        }
        let marks = runs.enumerated().flatMap { i, r in
            (r.faults ?? []).filter(\.triggered).map { ($0.atSeconds, palette[i % palette.count]) }
        }
        return lineChart(series, xRange: 0...max(xMax, 0.01), marks: marks, xLabel: "seconds") + legend(runs)
    }

    /// What ran: the workload, its load and server settings, in words.
    static func configuration(_ runs: [RunResult]) -> String {
        guard case .object(let w)? = runs.first?.workload else { return "" }
        var parts: [String] = []
        if case .string(let d)? = w["description"], !d.isEmpty { parts.append(esc(d)) }
        var load: [String] = []
        if case .number(let t)? = w["threads"] { load.append("\(Int(t)) client thread(s)") }
        if case .number(let d)? = w["duration"] { load.append(String(format: "%g s measured", d)) }
        if case .number(let d)? = w["warmup"] { load.append(String(format: "%g s warm-up", d)) }
        if case .object(let f)? = w["fileset"], case .number(let n)? = f["filesPerDir"], case .number(let d)? = f["dirs"],
           case .number(let sz)? = f["fileSize"] {
            load.append("fileset \(Int(d)) × \(Int(n)) files of \(Int(sz)) B")
        }
        if case .array(let m)? = w["mix"], !m.isEmpty {
            let ops = m.compactMap { v -> String? in
                guard case .object(let o) = v, case .string(let op)? = o["op"] else { return nil }
                if case .number(let wt)? = o["weight"] { return "\(op) \(wt == wt.rounded() ? String(Int(wt)) : String(wt))" }
                return op
            }
            load.append("mix: " + ops.joined(separator: ", "))
        }
        if case .array(let f)? = w["faults"], !f.isEmpty { load.append("faults: " + f.map(\.compact).joined(separator: ", ")) }
        if !load.isEmpty { parts.append(esc(load.joined(separator: "; "))) }
        if case .object(let srv)? = w["server"] {
            parts.append("server: " + esc(srv.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value.compact)" }
                .joined(separator: ", ")))
        }
        return parts.map { "<p class=meta>\($0)</p>\n" }.joined()
    }

    /// Per run: operations, throughput, bandwidth, latency and failures of
    /// the whole load (the numbers of the terminal summary).
    static func runTable(_ runs: [RunResult]) -> String {
        var t = "<table><tr><th>run</th><th>ops</th><th>ops/s</th><th>MiB/s</th><th>p50</th><th>p99</th>"
            + "<th>p99.9</th><th>max</th><th>failed</th><th>measured s</th></tr>\n"
        for r in runs {
            let l = r.total.latency
            t += "<tr><td>\(esc(r.labelText))</td><td>\(r.total.count)</td><td>\(String(format: "%.0f", r.total.throughput.value))</td>"
                + "<td>\(String(format: "%.1f", r.total.bandwidth.value / 1_048_576))</td>"
                + "<td>\(Format.value(Double(l.p50), unit: "ns"))</td><td>\(Format.value(Double(l.p99), unit: "ns"))</td>"
                + "<td>\(Format.value(Double(l.p999), unit: "ns"))</td><td>\(Format.value(Double(l.max), unit: "ns"))</td>"
                + "<td>\(r.total.errorCount)</td><td>\(String(format: "%.2f", r.measuredSeconds))</td></tr>\n"
        }
        return t + "</table>\n"
    }

    /// The sweep's table and the fits (the numbers of the terminal summary).
    static func sweepTables(_ runs: [RunResult], fits: [LinearFit]) -> String {
        var t = "<h3>Revalidation after a restart, by cached inodes (times in ms)</h3>\n<table><tr><th>strategy</th>"
            + "<th>cached inodes</th><th>outage</th><th>storm</th><th>notifications</th><th>all usable</th>"
            + "<th>LOOKUP+GETATTR</th><th>p99 after</th><th>kernel slab B/inode</th></tr>\n"
        for row in SweepRow.rows(runs) {
            t += "<tr><td>\(esc(row.strategy))</td><td>\(row.inodes)</td><td>\(ms(row.outage))</td><td>\(ms(row.storm))</td>"
                + "<td>\(row.notifications)</td><td>\(ms(row.allUsable))</td><td>\(row.lookups)</td>"
                + "<td>\(Format.value(Double(row.p99After), unit: "ns"))</td>"
                + "<td>\(row.slabPerInode.map { String(format: "%.0f", $0) } ?? "–")</td></tr>\n"
        }
        t += "</table>\n"
        guard !fits.isEmpty else { return t }
        t += "<h3>Fitted against cached inodes (least squares)</h3>\n<table><tr><th>strategy</th><th>figure</th>"
            + "<th>per cached inode</th><th>intercept</th><th>r²</th><th>points</th></tr>\n"
        for f in fits {
            let per = f.perInode
            let at0 = f.unit == "ns" ? Format.value(f.intercept, unit: "ns") : String(format: "%.3g %@", f.intercept, f.unit)
            t += "<tr><td>\(esc(f.strategy))</td><td>\(esc(f.metric))</td><td>\(per)</td><td>\(at0)</td>"
                + "<td>\(String(format: "%.2f", f.r2))</td><td>\(f.points)</td></tr>\n"
        }
        return t + "</table>\n"
    }

    /// One line per strategy: x = log10(cached inodes), y = revalidation sweep in ms.
    static func revalidationCurve(_ runs: [RunResult]) -> String {
        let groups = Dictionary(grouping: runs.filter { $0.primedFiles != nil }, by: { $0.strategy ?? $0.target })
            .sorted { $0.key < $1.key }
        var series: [(points: [(Double, Double)], color: String)] = []
        var xs: [Double] = []
        for (i, (_, rs)) in groups.enumerated() {
            let pts = rs.compactMap { r -> (Double, Double)? in
                guard let v = r.faults?.first(where: { $0.revalidationSweep != nil })?.revalidationSweep?.value else { return nil }
                let x = log10(Double(max(1, r.primedFiles!)))
                xs.append(x)
                return (x, v / 1e6)
            }.sorted { $0.0 < $1.0 }
            series.append((pts, palette[i % palette.count]))
        }
        guard let lo = xs.min(), let hi = xs.max(), hi > lo else { return "" }
        let legendHTML = "<div class=legend>" + groups.enumerated().map { i, g in
            "<span><i style=\"background:\(palette[i % palette.count])\"></i>\(esc(g.key))</span>"
        }.joined() + "</div>\n"
        let counts = Set(runs.compactMap(\.primedFiles)).sorted()
        let ticks = counts.map { (log10(Double(max(1, $0))), short(Double($0))) }
        return lineChart(series, xRange: lo...hi, marks: [], xLabel: "cached inodes (log scale)", xTicks: ticks) + legendHTML
    }

    /// The fault zoom's step: 5 ms (a 1-ms bucket holds a few dozen
    /// operations, too few to draw), or a run's coarser buckets.
    static func zoomStepMs(_ runs: [RunResult]) -> Int { max(5, runs.map(\.timeline.bucketMs).max() ?? 5) }

    static func faultZoom(_ runs: [RunResult]) -> String {
        let before = 0.2, after = 0.4
        let stepMs = zoomStepMs(runs)
        var series: [(points: [(Double, Double)], color: String)] = []
        for (i, r) in runs.enumerated() {
            guard let f = r.faults?.first(where: \.triggered) else { continue }
            let pts = rates(r.timeline.succeeded, bucketMs: r.timeline.bucketMs, stepMs: stepMs)
                .map { ($0.0 - f.atSeconds, $0.1) }.filter { $0.0 >= -before && $0.0 <= after }.map { ($0.0 * 1000, $0.1) }
            series.append((pts, palette[i % palette.count]))
        }
        return lineChart(series, xRange: (-before * 1000)...(after * 1000), marks: [(0, "#000")], xLabel: "ms from the fault")
            + legend(runs.filter { $0.faults?.contains(where: \.triggered) == true })
    }

    static func strategyTable(_ runs: [RunResult]) -> String {
        var t = "<table><tr><th>run</th><th>transport</th><th>faults</th><th>outage ms</th><th>resume ms</th><th>stall ms</th><th>waited ms</th>"
            + "<th>recovery ms</th><th title='the recovery measure halfway between faults, where nothing happened'>control ms</th><th>app errors</th><th>resent</th><th>integrity</th>"
            + (runs.contains { $0.clients != nil } ? "<th>clients failed</th>" : "") + "</tr>\n"
        for r in runs {
            let s = StrategySummary(r)
            t += "<tr><td>\(esc(label(r)))</td><td>\(esc(s.transport ?? "–"))</td><td>\(s.faults)</td><td>\(ms(s.outage))</td><td>\(ms(s.resume))</td>"
                + "<td>\(ms(s.stall))</td><td>\(ms(s.waited))</td><td>\(ms(s.recovery))</td><td>\(ms(s.recoveryControl))</td><td>\(s.applicationErrors)</td>"
                + "<td>\(s.resent)</td><td>\(s.integrity ?? "–")</td>"
                + (runs.contains { $0.clients != nil } ? "<td>\(s.clientsFailed ?? "–")</td>" : "") + "</tr>\n"
        }
        return t + "</table><p class=meta>medians over the faults of each run</p>\n" + handoverSection(runs) + stallSection(runs)
    }

    /// Where each fault's longest stall went (`StrategySummary`'s medians).
    static func stallSection(_ runs: [RunResult]) -> String {
        let rows = runs.map { ($0, StrategySummary($0)) }.filter { !$0.1.stalledOperations.isEmpty }
        guard !rows.isEmpty else { return "" }
        var t = "<h3>Where the longest stall goes</h3>\n<table><tr><th>run</th><th>stall ms</th><th>before the fault ms</th>"
            + "<th>fault to resend ms</th><th>after the resend ms</th><th>resend to resent answered ms</th><th style='text-align:left'>operations</th></tr>\n"
        for (r, s) in rows {
            t += "<tr><td>\(esc(label(r)))</td><td>\(ms(s.stall))</td><td>\(ms(s.stallBeforeFault))</td>"
                + "<td>\(ms(s.stallUntilResend))</td><td>\(ms(s.stallAfterResend))</td><td>\(ms(s.resentAnsweredAfterResend))</td><td style='text-align:left'>\(esc(s.stalledOperationsText))</td></tr>\n"
        }
        return t + "</table><p class=meta>the operation each fault stalled longest, medians over the faults: its time "
            + "before the fault, after it until FUSE_NOTIFY_RESEND (all of it without a handover), and from the resend "
            + "to its end, served again by the new server; and from the resend to the new server's last reply to a request it "
            + "re-delivered</p>\n"
    }

    /// Where a handover's time goes: one bar per run, the median handover's
    /// steps laid out from the fault, and the floor's medians.
    static func handoverSection(_ runs: [RunResult]) -> String {
        let rows = runs.compactMap { r -> (RunResult, StrategySummary, HandoverTimeline)? in
            let s = StrategySummary(r)
            return s.medianHandover.map { (r, s, $0) }
        }
        guard !rows.isEmpty else { return "" }
        func us(_ v: Double?) -> String { v.map { String(format: "%.0f", $0 / 1e3) } ?? "–" }
        let span = max(1, rows.compactMap { $0.2.firstReply?.value }.max() ?? 1)
        let w = 1000.0, left = 250.0, barH = 14.0, laneH = 6.0, rowH = 34.0
        let h = Double(rows.count) * rowH + 40
        func x(_ v: Double) -> Double { left + v / span * (w - left - 90) }
        // Two lanes: the new server's path (to its go, waking at the gate,
        // the kernel to its first request, its first work), and under it the
        // dead server's (its threads leaving the device, then the resend).
        // A standby let go at the death notice runs while the dead server's
        // threads leave; otherwise its go follows the resend.
        var svg = "<svg width=\(Int(w)) height=\(Int(h)) role=img aria-label='handover timelines'>"
        for (i, row) in rows.enumerated() {
            let (r, _, t) = row
            let y = 10 + Double(i) * rowH
            svg += "<text x=4 y=\(y + 13) font-size=12>\(esc(label(r)))</text>"
            let go = t.goSent?.value ?? t.resendSent.value
            let segs: [(Double, Double, Double, Double, String, String)] = [
                (0, go, y, barH, "#bbbbbb", "keeper: to the go"),
                (go, t.gatePassed?.value ?? go, y, barH, "#9467bd", "standby: waking, and its work at the gate"),
                (t.gatePassed?.value ?? go, t.firstRequestRead?.value ?? go, y, barH, "#1f77b4",
                 "kernel: to the first request read"),
                (t.firstRequestRead?.value ?? go, t.firstReply?.value ?? go, y, barH, "#2ca02c", "the new server's first work"),
                (0, t.threadsOut.value, y + barH + 2, laneH, "#d62728", "dead server's threads leaving the device"),
                (t.threadsOut.value, t.resendSent.value, y + barH + 2, laneH, "#ff7f0e", "the resend"),
            ]
            for (a, b, top, height, color, what) in segs where b > a {
                svg += "<rect x=\(String(format: "%.1f", x(a))) y=\(top) width=\(String(format: "%.1f", max(1, x(b) - x(a)))) "
                    + "height=\(height) fill='\(color)'><title>\(what): \(us(a))–\(us(b)) µs</title></rect>"
            }
            svg += "<text x=\(String(format: "%.1f", x(t.firstReply?.value ?? go) + 4)) y=\(y + 12) font-size=11>"
                + "\(us(t.firstReply?.value)) µs</text>"
        }
        let axisY = 10 + Double(rows.count) * rowH + 4
        svg += "<line x1=\(left) y1=\(axisY) x2=\(w - 90) y2=\(axisY) stroke='#999'/>"
        for k in 0...4 {
            let v = span * Double(k) / 4
            svg += "<text x=\(String(format: "%.1f", x(v) - 10)) y=\(axisY + 14) font-size=11>\(us(v))</text>"
        }
        svg += "</svg>"
        var t = "<h3>Where a handover's time goes (the median handover of each run, µs after the fault)</h3>\n" + svg
        t += "<div class=legend><span><i style='background:#bbbbbb'></i>keeper: to the go</span>"
            + "<span><i style='background:#9467bd'></i>standby: "
            + "waking, its work at the gate</span><span><i style='background:#1f77b4'></i>kernel: to the "
            + "new server's first request</span><span><i style='background:#2ca02c'></i>the new server's first work</span>"
            + "<span><i style='background:#d62728'></i>under it: the dead server's threads leaving the device</span>"
            + "<span><i style='background:#ff7f0e'></i>the resend</span></div>\n"
        t += "<table><tr><th>run</th><th>threads out</th><th>resend</th><th>go</th><th>gate</th><th>first request</th>"
            + "<th>first reply</th><th>floor (median)</th><th>keeper part</th><th>standby part</th><th>kernel part</th></tr>\n"
        for (r, s, h) in rows {
            t += "<tr><td>\(esc(label(r)))</td><td>\(us(h.threadsOut.value))</td><td>\(us(h.resendSent.value))</td>"
                + "<td>\(us(h.goSent?.value))</td><td>\(us(h.gatePassed?.value))</td><td>\(us(h.firstRequestRead?.value))</td>"
                + "<td>\(us(h.firstReply?.value))</td><td>\(us(s.floor))</td><td>\(us(s.keeperPart))</td><td>\(us(s.standbyPart))</td>"
                + "<td>\(us(s.kernelPart))</td></tr>\n"
        }
        return t + "</table><p class=meta>floor: fault to the first request in the new server's hands (keeper: to its "
            + "go; standby: from the go to its gate open, the state or storm it takes on there included; kernel: from "
            + "the gate to that request read), medians over the faults</p>\n"
    }

    static func latencyChart(_ runs: [RunResult]) -> String {
        let ops = Array(Set(runs.flatMap { $0.operations.keys })).sorted()
        let rowH = 14.0, groupGap = 10.0, left = 90.0, w = 1000.0, right = 20.0
        let all = runs.flatMap { $0.operations.values.flatMap { [$0.latency.p50, $0.latency.max] } }.filter { $0 > 0 }
        guard let lo = all.min(), let hi = all.max() else { return "" }
        let lmin = log10(Double(max(1, lo))) - 0.1, lmax = log10(Double(hi)) + 0.1
        func x(_ v: UInt64) -> Double { left + (log10(Double(max(1, v))) - lmin) / (lmax - lmin) * (w - left - right) }
        let h = Double(ops.count) * (Double(runs.count) * rowH + groupGap) + 40
        var svg = "<svg viewBox=\"0 0 \(Int(w)) \(Int(h))\" width=\"100%\" role=img>\n"
        var decade = pow(10, floor(lmin))
        while log10(decade) <= lmax {
            if log10(decade) >= lmin {
                let xx = left + (log10(decade) - lmin) / (lmax - lmin) * (w - left - right)
                let label = decade >= 1e9 ? "\(Int(decade / 1e9))s" : decade >= 1e6 ? "\(Int(decade / 1e6))ms"
                    : decade >= 1e3 ? "\(Int(decade / 1e3))us" : "\(Int(decade))ns"
                svg += "<line x1=\(xx) x2=\(xx) y1=0 y2=\(h - 25) stroke=#eee /><text x=\(xx) y=\(h - 10) font-size=11 text-anchor=middle>\(label)</text>\n"
            }
            decade *= 10
        }
        var yy = 10.0
        for op in ops {
            svg += "<text x=4 y=\(yy + rowH * Double(runs.count) / 2 + 4) font-size=12>\(esc(op))</text>\n"
            for (i, r) in runs.enumerated() {
                let color = palette[i % palette.count]
                if let l = r.operations[op]?.latency, l.count > 0 {
                    let cy = yy + rowH / 2
                    svg += "<line x1=\(x(l.p50)) x2=\(x(l.p999)) y1=\(cy) y2=\(cy) stroke=\(color) stroke-width=4 opacity=0.35 />"
                    svg += "<line x1=\(x(l.p999)) x2=\(x(l.max)) y1=\(cy) y2=\(cy) stroke=\(color) stroke-width=1 />"
                    for (v, rad) in [(l.p50, 3.5), (l.p99, 2.5)] {
                        svg += "<circle cx=\(x(v)) cy=\(cy) r=\(rad) fill=\(color) />"
                    }
                    svg += "\n"
                }
                yy += rowH
            }
            yy += groupGap
        }
        return svg + "</svg>\n" + legend(runs)
            + "<p class=meta>dot: p50, small dot: p99, thick bar: p50 to p99.9, thin line: to max</p>\n"
    }
}
