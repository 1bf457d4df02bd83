// The gate on real mounts: an unchanged server passes; each injected change
// fails it with a message that names the metric and the opcode or
// operation: one FLUSH per close (skipFlush off), one GETXATTR per write
// (killPrivV2 off), failed requests (FUSEBENCH_SERVER_FAIL_PERCENT), and a
// slowdown (FUSEBENCH_SERVER_DELAY_US) measured side by side. A run with
// failed operations never compares as better than a clean one.
import Foundation
import ResultModel
import TestSupport
import XCTest

final class GateRegressionTests: XCTestCase {
    var dir: TempDir!

    override func setUpWithError() throws {
        try Isolation.requireMountSandbox()
        dir = try TempDir("gatereg")
    }

    override func tearDown() {
        Isolation.assertNothingMounted(under: "/tmp")
        dir?.remove()
    }

    /// workloads/gate-counts.json with some server options changed.
    func countsWorkload(_ name: String, server: [String: Any] = [:]) throws -> String {
        let src = Binary.packageRoot + "/workloads/gate-counts.json"
        var w = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: src)))
                              as? [String: Any])
        var s = w["server"] as? [String: Any] ?? [:]
        for (k, v) in server { s[k] = v }
        w["server"] = s
        let path = dir.file("\(name).json")
        try JSONSerialization.data(withJSONObject: w).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Runs a workload on the reference server into `name`-result.json.
    func run(_ workload: String, _ name: String, environment: [String: String] = [:]) throws -> String {
        let out = dir.file("\(name)-result.json")
        let r = try Binary.run(["run", workload, "--output", out, "--quiet"], environment: environment)
        XCTAssertEqual(r.status, 0, r.stderr)
        return out
    }

    func gate(_ base: String, _ current: String) throws -> Binary.Outcome {
        try Binary.run(["gate", "--baseline", base, "--current", current])
    }

    func testExactFiguresHoldAndEachInjectedChangeFailsTheGate() throws {
        let clean = try countsWorkload("clean")
        let base = try run(clean, "base")
        let again = try run(clean, "again")

        // The figures are exact: a second run issues the same requests.
        let a = try XCTUnwrap(try ResultFile.read(base).runs.first?.accounting)
        let b = try XCTUnwrap(try ResultFile.read(again).runs.first?.accounting)
        XCTAssertEqual(a.totalOperations, 3000, "a fixed operation count")
        // Forgets come when the kernel evicts inodes, batched by timing: not exact.
        func exact(_ x: RequestAccounting) -> [String: UInt64] {
            x.opcodes.filter { !RequestAccounting.timingDependent.contains($0.key) }.mapValues(\.received)
        }
        XCTAssertEqual(exact(a), exact(b))
        XCTAssertEqual(a.discrepancies, [], "every request read was answered")
        XCTAssertEqual(a.opcodes["FLUSH"]?.received ?? 0, 0, "skipFlush: no FLUSH on close")
        XCTAssertGreaterThan(a.opcodes["LOOKUP"]?.perOperation ?? 0, 1, "caches off: every stat looks names up")
        let same = try gate(base, again)
        XCTAssertEqual(same.status, 0, same.stdout + same.stderr)
        XCTAssertTrue(same.stdout.contains("no regression"), same.stdout)
        XCTAssertTrue(same.stdout.contains("time metrics are reported, not gated"), same.stdout)

        // One FLUSH per close.
        let flush = try run(try countsWorkload("flush", server: ["skipFlush": false]), "flush")
        let f = try gate(base, flush)
        XCTAssertEqual(f.status, 5, f.stdout + f.stderr)
        XCTAssertTrue(f.stderr.contains("gate-counts reference FLUSH requests/op"), f.stderr)

        // One GETXATTR per write call (4 per write operation) instead of one per open.
        let kp = try run(try countsWorkload("kp", server: ["killPrivV2": false]), "kp")
        let k = try gate(base, kp)
        XCTAssertEqual(k.status, 5, k.stdout + k.stderr)
        XCTAssertTrue(k.stderr.contains("gate-counts reference GETXATTR requests/op"), k.stderr)

        // 1 % of requests fail: errors rise from 0.
        let failing = try run(clean, "fail", environment: ["FUSEBENCH_SERVER_FAIL_PERCENT": "1"])
        let e = try gate(base, failing)
        XCTAssertEqual(e.status, 5, e.stdout + e.stderr)
        XCTAssertTrue(e.stderr.contains("gate-counts reference errors"), e.stderr)
        XCTAssertTrue(e.stderr.contains("errors EIO"), "names the operation and the errno: \(e.stderr)")
        let failed = try XCTUnwrap(try ResultFile.read(failing).runs.first)
        XCTAssertGreaterThan(failed.total.errorCount, 0)
        XCTAssertEqual(failed.total.count + failed.total.errorCount, 3000, "failed operations are not counted as done")
        XCTAssertEqual(failed.total.latency.count, failed.total.count, "latency counts successful operations only")

        // Compared with the clean run, the failing run is never better in time.
        let c = try Binary.run(["compare", base, failing])
        XCTAssertEqual(c.status, 0, c.stderr)
        let timeRows = c.stdout.split(separator: "\n").filter {
            $0.hasPrefix("gate-counts reference throughput") || $0.hasPrefix("gate-counts reference latency")
                || $0.contains(" latency p50 ")
        }
        XCTAssertFalse(timeRows.isEmpty, c.stdout)
        for row in timeRows { XCTAssertFalse(row.contains(" better)"), "a failing run compared as better: \(row)") }
        XCTAssertTrue(c.stdout.contains("errors EIO"), c.stdout)
    }

    func testASlowdownMeasuredSideBySideFailsTheGate() throws {
        // The current server waits 300 us per request; the baseline (the same
        // binary as a peer, without the delay) does not. Interleaved in one
        // invocation, the slowdown is a time regression.
        let base = "base=env -u FUSEBENCH_SERVER_DELAY_US \(Binary.path) serve --source {source} --threads {threads} "
            + "--entry-timeout {timeout} --attr-timeout {timeout} {mountpoint}"
        let out = dir.file("side.json")
        let r = try Binary.run(["bench", "workloads/gate.json", "--repeat", "5", "--peer", base, "--output", out,
                                "--quiet"], environment: ["FUSEBENCH_SERVER_DELAY_US": "300"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let g = try Binary.run(["gate", "--current", out, "--baseline-target", "base"])
        XCTAssertEqual(g.status, 5, g.stdout + g.stderr)
        XCTAssertTrue(g.stderr.contains("gate throughput"), g.stderr)
        XCTAssertTrue(g.stderr.contains("gate stat latency p50") || g.stderr.contains("gate randread latency p50"),
                      "names the operation: \(g.stderr)")

        // Without the delay, the same comparison passes (time within noise).
        let out2 = dir.file("side2.json")
        let r2 = try Binary.run(["bench", "workloads/gate.json", "--repeat", "5", "--peer", base, "--output", out2,
                                 "--quiet"])
        XCTAssertEqual(r2.status, 0, r2.stderr)
        let g2 = try Binary.run(["gate", "--current", out2, "--baseline-target", "base", "--default-threshold", "0.5"])
        XCTAssertEqual(g2.status, 0, g2.stdout + g2.stderr)
    }
}
