// `fusebench run` through the built binary: a real benchmark of a real
// mount produces a result that validates against the published schema.
import Foundation
import ResultModel
import TestSupport
import XCTest

final class RunCommandTests: XCTestCase {
    var out: TempDir!

    override func setUpWithError() throws {
        try Isolation.requireMountSandbox()
        out = try TempDir("cli")
    }

    override func tearDown() {
        Isolation.assertNothingMounted(under: "/tmp")
        out?.remove()
    }

    func testSmokeRunOnTheReferenceServer() throws {
        let path = out.file("smoke.json")
        let r = try Binary.run(["run", "workloads/smoke.json", "--output", path, "--duration", "0.6", "--warmup", "0.1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("smoke on reference"), r.stdout)
        XCTAssertTrue(r.stdout.contains("total"), r.stdout)
        XCTAssertTrue(r.stderr.contains("wrote \(path)"), r.stderr)
        try ResultSchema.assertValid(path)

        let doc = try ResultFile.read(path)
        XCTAssertEqual(doc.schemaVersion, 1)
        XCTAssertEqual(doc.kind, "run")
        XCTAssertEqual(doc.tool.name, "fusebench")
        XCTAssertEqual(doc.environment.libfuse, "3.14.0")
        let run = try XCTUnwrap(doc.runs.first)
        XCTAssertEqual(run.target, "reference")
        XCTAssertEqual(run.workloadName, "smoke")
        XCTAssertEqual(run.measuredSeconds, 0.6)
        XCTAssertGreaterThan(run.total.count, 100)
        XCTAssertEqual(run.total.errors, [:])
        XCTAssertEqual(run.timeline.completed.reduce(0, +), run.total.count)
        XCTAssertEqual(run.timeline.completed.count, 60)
        // The overrides are in the workload as run.
        guard case .object(let w) = run.workload else { return XCTFail("workload is not an object") }
        XCTAssertEqual(w["duration"], .number(0.6))
        // The server's own view: the client operations reached it.
        let server = try XCTUnwrap(run.server)
        XCTAssertNotNil(server.fuseProtocol)
        for op in ["LOOKUP", "GETATTR", "OPEN", "CREATE", "UNLINK", "RENAME", "MKDIR", "RMDIR"] {
            XCTAssertGreaterThan(server.opcodes[op]?.count ?? 0, 0, op)
        }
        // FUSE passthrough (on by default, and this kernel has it): every
        // open is a passthrough open, so reads and writes never reach the
        // server.
        XCTAssertEqual(server.initFlagsAdded?.contains("PASSTHROUGH"), true)
        XCTAssertEqual(server.passthroughOpens, (server.opcodes["OPEN"]?.count ?? 0) + (server.opcodes["CREATE"]?.count ?? 0))
        XCTAssertEqual(server.passthroughRefused, 0)
        XCTAssertNil(server.opcodes["READ"])
        XCTAssertNil(server.opcodes["WRITE"])
        XCTAssertGreaterThanOrEqual(server.requests, run.total.count)
        XCTAssertEqual(server.unknownNodeIds, 0)
    }

    func testNativeTargetWritesTheSameFormat() throws {
        let path = out.file("native.json")
        let r = try Binary.run(["run", "workloads/smoke.json", "--target", "native", "--output", path,
                                "--duration", "0.3", "--warmup", "0", "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)
        try ResultSchema.assertValid(path)
        let run = try XCTUnwrap(try ResultFile.read(path).runs.first)
        XCTAssertEqual(run.target, "native")
        XCTAssertNil(run.server)
        XCTAssertGreaterThan(run.total.count, 0)
    }

    func testBenchWritesRatiosMeasuredSideBySide() throws {
        let path = out.file("bench.json")
        let r = try Binary.run(["bench", "workloads/smoke.json", "workloads/smallfiles.json", "--repeat", "1",
                                "--duration", "0.3", "--warmup", "0", "--output", path, "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)
        try ResultSchema.assertValid(path)
        let doc = try ResultFile.read(path)
        XCTAssertEqual(doc.kind, "bench")
        XCTAssertEqual(doc.runs.map(\.target).sorted(), ["native", "native", "reference", "reference"])
        XCTAssertEqual(doc.comparisons?.map(\.workload), ["smoke", "smallfiles"])
        for c in doc.comparisons ?? [] {
            let t = try XCTUnwrap(c.ratios["throughput"])
            XCTAssertEqual(t.unit, "ratio")
            XCTAssertGreaterThan(t.value, 0)
            // The ratio is what the two runs measured.
            let ref = doc.runs.first { $0.target == "reference" && $0.workloadName == c.workload }!
            let nat = doc.runs.first { $0.target == "native" && $0.workloadName == c.workload }!
            XCTAssertEqual(t.value, ref.total.throughput.value / nat.total.throughput.value, accuracy: 1e-9)
        }
        XCTAssertTrue(r.stdout.contains("reference / native"), r.stdout)
    }

    func testValidateAndHelp() throws {
        let r = try Binary.run(["validate", "workloads/smoke.json", "workloads/mixed.json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("workloads/mixed.json: ok"))
        let h = try Binary.run(["--help"])
        XCTAssertEqual(h.status, 0)
        for sub in ["run", "bench", "serve", "validate"] { XCTAssertTrue(h.stdout.contains(sub), sub) }
        XCTAssertTrue(h.stdout.contains("Exit codes"))
    }

    func testListShowsWhatThereIsToRunAndTheMetricsOfAResult() throws {
        let all = try Binary.run(["list"])
        XCTAssertEqual(all.status, 0, all.stderr)
        for phrase in ["workloads/crash-compare.json", "workloads/hazards/held-descriptors.json", "handover-epoch",
                       "kill:every=2s", "held"] {
            XCTAssertTrue(all.stdout.contains(phrase), "\(phrase): \(all.stdout)")
        }
        let strategies = try Binary.run(["list", "strategies"])
        // A heading, then each of the 10 strategies and its parts.
        XCTAssertEqual(strategies.stdout.split(separator: "\n").count, 21, strategies.stdout)
        XCTAssertTrue(strategies.stdout.contains("keeper harness, ids handle, revalidation epoch, state open-files"),
                      strategies.stdout)
        let missing = try Binary.run(["list", "metrics"])
        XCTAssertEqual(missing.status, 2, missing.stderr)
        XCTAssertTrue(missing.stderr.contains("needs a result file"), missing.stderr)
        let dir = try TempDir("list")
        defer { dir.remove() }
        let out = dir.file("r.json")
        let r = try Binary.run(["run", "workloads/smoke.json", "--target", "native", "--duration", "0.2",
                                "--warmup", "0", "--quiet", "--output", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        let metrics = try Binary.run(["list", "metrics", out])
        XCTAssertEqual(metrics.status, 0, metrics.stderr)
        XCTAssertTrue(metrics.stdout.contains("time    smoke native throughput (ops/s)"), metrics.stdout)
    }

    /// Runs are told apart everywhere (issue 17): the summary's headings,
    /// the JSON, the HTML; repeats are aggregated; progress says which run
    /// of how many.
    func testRepeatedRunsAreLabelledAndAggregated() throws {
        let dir = try TempDir("labels")
        defer { dir.remove() }
        let out = dir.file("r.json")
        let r = try Binary.run(["run", "workloads/smoke.json", "--target", "native", "--duration", "0.2", "--warmup", "0",
                                "--repeat", "2", "--output", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("smoke on native · trial 0:"), r.stdout)
        XCTAssertTrue(r.stdout.contains("smoke on native · trial 1:"), r.stdout)
        XCTAssertTrue(r.stdout.contains("over the trials (--repeat):"), r.stdout)
        XCTAssertTrue(r.stdout.contains("smoke on native "), r.stdout)
        XCTAssertTrue(r.stderr.contains("run 1 of 2: smoke on native · trial 0, about"), r.stderr)
        XCTAssertTrue(r.stderr.contains("run 2 of 2: smoke on native · trial 1, about"), r.stderr)
        let doc = try ResultFile.read(out)
        XCTAssertEqual(doc.runs.map(\.label), ["native · trial 0", "native · trial 1"])
        let html = dir.file("r.html")
        XCTAssertEqual(try Binary.run(["report", out, "--html", html]).status, 0)
        let page = try String(contentsOfFile: html, encoding: .utf8)
        XCTAssertTrue(page.contains("Every run: successful operations"), "a table of numbers")
        XCTAssertTrue(page.contains("native · trial 1"), "legends and tables name the trial")
        XCTAssertTrue(page.contains("mix: stat 30"), "what ran, in words")
    }
}
