// compare, gate and export through the built binary, on result files.
import Contract
import Foundation
import ResultModel
import TestSupport
import XCTest

final class GateCommandTests: XCTestCase {
    var dir: TempDir!

    override func setUpWithError() throws { dir = try TempDir("gate") }
    override func tearDown() { dir.remove() }

    func write(_ name: String, ratios: [Double]) throws -> String {
        let path = dir.file(name)
        var runs: [RunResult] = []
        for (i, q) in ratios.enumerated() {
            for (target, t) in [("native", 1000.0), ("reference", 1000 * q)] {
                let lat = LatencyDistribution(count: 1, min: 1, mean: 1, p50: UInt64(1e6 / t), p90: 1, p99: 1, p999: 1, max: 1)
                let op = OperationResult(count: 1, throughput: .opsPerSecond(t), bandwidth: .bytesPerSecond(0),
                                         latency: lat, errors: [:])
                var r = RunResult(target: target, workload: .object(["name": .string("w")]),
                                  startedAt: "2026-01-01T00:00:00Z", measuredSeconds: 1, threads: 1,
                                  operations: ["stat": op], total: op,
                                  timeline: Timeline(bucketMs: 10, completed: [1], errors: [0]), server: nil)
                r.trial = i
                runs.append(r)
            }
        }
        try ResultFile.write(ResultDocument(kind: "bench", tool: ToolIdentity(name: "fusebench", version: "0",
                                                                             gitRevision: nil),
                                            command: [], environment: .current(), runs: runs), to: path)
        return path
    }

    func testGateExitCodes() throws {
        let base = try write("base.json", ratios: [0.30, 0.31, 0.29, 0.30, 0.32])
        let same = try write("same.json", ratios: [0.31, 0.29, 0.30, 0.31, 0.30])
        let slow = try write("slow.json", ratios: [0.15, 0.16, 0.14, 0.15, 0.15])
        let ok = try Binary.run(["gate", "--baseline", base, "--current", same, "--time"])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertTrue(ok.stdout.contains("no regression"))
        // Without --time, time measured in another job is reported, not gated.
        let reported = try Binary.run(["gate", "--baseline", base, "--current", slow, "--verbose"])
        XCTAssertEqual(reported.status, 0, reported.stderr)
        XCTAssertTrue(reported.stdout.contains("reported     w reference/native throughput")
                      || reported.stdout.contains("reported    w reference/native throughput"), reported.stdout)
        let md = dir.file("gate.md")
        let bad = try Binary.run(["gate", "--baseline", base, "--current", slow, "--markdown", md, "--time"])
        XCTAssertEqual(bad.status, 5, bad.stderr)
        XCTAssertTrue(bad.stderr.contains("regressed"), bad.stderr)
        XCTAssertTrue(try String(contentsOfFile: md, encoding: .utf8).contains("**regression**"))
        let missing = try Binary.run(["gate", "--baseline", dir.file("nope.json"), "--current", same])
        XCTAssertEqual(missing.status, 6, missing.stderr)
        let v2 = dir.file("v2.json")
        try #"{"schemaVersion": 2, "runs": []}"#.write(toFile: v2, atomically: true, encoding: .utf8)
        let incompatible = try Binary.run(["gate", "--baseline", v2, "--current", same])
        XCTAssertEqual(incompatible.status, 7, incompatible.stderr)
        XCTAssertTrue(incompatible.stderr.contains("schemaVersion 2"), incompatible.stderr)
        // A threshold that names no metric is an error, not a silent no-op.
        let bogus = try Binary.run(["gate", "--baseline", base, "--current", same, "--threshold", "bogus=0.1"])
        XCTAssertEqual(bogus.status, 2, bogus.stderr)
        XCTAssertTrue(bogus.stderr.contains("bogus"), bogus.stderr)

        // A thresholds file: a loose threshold for the ratio lets the slow
        // result pass; a bad line and a metric it does not match are errors.
        let file = dir.file("thresholds.txt")
        try "# CI thresholds\nreference/native throughput = 0.9\n\n".write(toFile: file, atomically: true, encoding: .utf8)
        let strict = try Binary.run(["gate", "--baseline", base, "--current", slow, "--time"])
        XCTAssertTrue(strict.stderr.contains("w reference/native throughput"), strict.stderr)
        let loose = try Binary.run(["gate", "--baseline", base, "--current", slow, "--time", "--thresholds", file])
        XCTAssertFalse(loose.stderr.contains("w reference/native throughput"), "within 0.9: " + loose.stderr)
        try "throughput: 0.9\n".write(toFile: file, atomically: true, encoding: .utf8)
        let badLine = try Binary.run(["gate", "--baseline", base, "--current", slow, "--thresholds", file])
        XCTAssertEqual(badLine.status, 2, badLine.stderr)
        XCTAssertTrue(badLine.stderr.contains("line 1: expected metric=fraction"), badLine.stderr)
        try "nothing here=0.1\n".write(toFile: file, atomically: true, encoding: .utf8)
        let unmatched = try Binary.run(["gate", "--baseline", base, "--current", slow, "--thresholds", file])
        XCTAssertEqual(unmatched.status, 2, unmatched.stderr)
        XCTAssertTrue(unmatched.stderr.contains("nothing here"), unmatched.stderr)
    }

    func testCompareAndExports() throws {
        let base = try write("base.json", ratios: [0.30, 0.30, 0.30])
        let slow = try write("slow.json", ratios: [0.15, 0.15, 0.15])
        let c = try Binary.run(["compare", base, slow])
        XCTAssertEqual(c.status, 0, c.stderr)
        XCTAssertTrue(c.stdout.contains("w reference/native throughput"), c.stdout)
        XCTAssertTrue(c.stdout.contains("-50.0% worse"), c.stdout)
        let md = try Binary.run(["compare", base, slow, "--markdown"])
        XCTAssertTrue(md.stdout.hasPrefix("| metric | unit |"), md.stdout)

        let bigger = try Binary.run(["export", base, "--format", "github-bigger"])
        XCTAssertEqual(bigger.status, 0, bigger.stderr)
        let entries = try JSONSerialization.jsonObject(with: Data(bigger.stdout.utf8)) as! [[String: Any]]
        let ratio = try XCTUnwrap(entries.first { $0["name"] as? String == "w reference/native throughput" })
        XCTAssertEqual(ratio["value"] as? Double ?? 0, 0.3, accuracy: 1e-9)
        XCTAssertEqual(ratio["unit"] as? String, "ratio")
        XCTAssertFalse(entries.contains { ($0["name"] as! String).hasSuffix("latency p50") }, "smaller-is-better left out")

        let smaller = try Binary.run(["export", base, "--format", "github-smaller"])
        let small = try JSONSerialization.jsonObject(with: Data(smaller.stdout.utf8)) as! [[String: Any]]
        XCTAssertTrue(small.contains { ($0["name"] as! String) == "w reference latency p50" })

        let bencher = try Binary.run(["export", base, "--format", "bencher"])
        let bmf = try JSONSerialization.jsonObject(with: Data(bencher.stdout.utf8)) as! [String: [String: [String: Double]]]
        XCTAssertEqual(bmf["w reference/native"]?["throughput"]?["value"] ?? 0, 0.3, accuracy: 1e-9)
        XCTAssertNotNil(bmf["w native"]?["latency-p99"])

        // CSV: a header and one row per run and operation; the metrics form
        // with the mean and standard deviation over the trials.
        let csv = try Binary.run(["export", base, "--format", "csv"])
        XCTAssertEqual(csv.status, 0, csv.stderr)
        let lines = csv.stdout.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines[0].hasPrefix("workload,target,strategy,sweep,trial,operation,ops,failed,ops_per_s"), lines[0])
        let doc = try ResultFile.read(base)
        XCTAssertEqual(lines.count - 1, doc.runs.map { $0.operations.count + 1 }.reduce(0, +))
        XCTAssertTrue(lines.allSatisfy { $0.split(separator: ",", omittingEmptySubsequences: false).count == 17 })
        let metrics = try Binary.run(["export", base, "--format", "csv-metrics"])
        let ratioRow = try XCTUnwrap(metrics.stdout.split(separator: "\n").first { $0.hasPrefix("w reference/native throughput,") })
        let f = ratioRow.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        XCTAssertEqual(f[4], "3", "three trials")
        XCTAssertEqual(Double(f[6]) ?? 0, 0.3, accuracy: 1e-9, "mean")
        XCTAssertEqual(Double(f[7]) ?? 1, 0, accuracy: 1e-9, "stddev of equal samples")
    }
}
