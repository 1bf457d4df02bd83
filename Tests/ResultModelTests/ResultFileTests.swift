// Encoding, writing and reading result documents, and JSON values.
import Foundation
import ResultModel
import XCTest

final class ResultFileTests: XCTestCase {
    func sampleDocument() -> ResultDocument {
        let op = OperationResult(count: 10, throughput: .opsPerSecond(5), bandwidth: .bytesPerSecond(0),
                                 latency: LatencyDistribution(count: 10, min: 1, mean: 2, p50: 2, p90: 3, p99: 4,
                                                              p999: 4, max: 4),
                                 errors: ["ENOENT": 1])
        let run = RunResult(target: "native", workload: .object(["name": .string("w")]), startedAt: "2026-01-01T00:00:00Z",
                            measuredSeconds: 2, threads: 1, operations: ["stat": op], total: op,
                            timeline: Timeline(bucketMs: 10, completed: [4, 6], errors: [1, 0]), server: nil)
        return ResultDocument(kind: "run", tool: ToolIdentity(name: "fusebench", version: "0", gitRevision: nil),
                              command: ["fusebench"], environment: .fixture, runs: [run])
    }

    func testRoundTripAndOptionalFieldsLeftOut() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rf-\(getpid())")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("sub/r.json").path
        let doc = sampleDocument()
        try ResultFile.write(doc, to: path)
        XCTAssertEqual(try ResultFile.read(path), doc)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        XCTAssertFalse(text.contains("\"server\""), "absent optional fields are left out")
        XCTAssertFalse(text.contains("comparisons"))
        XCTAssertFalse(text.contains("gitRevision"))
        XCTAssertTrue(text.contains("\"unit\" : \"ops/s\""))
    }

    func testOtherSchemaVersionsAndGarbageAreRefused() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rf2-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let v2 = dir.appendingPathComponent("v2.json").path
        try Data(#"{"schemaVersion": 2}"#.utf8).write(to: URL(fileURLWithPath: v2))
        XCTAssertThrowsError(try ResultFile.read(v2)) { e in
            guard case ResultFileError.incompatible(_, 2) = e else { return XCTFail("\(e)") }
        }
        let junk = dir.appendingPathComponent("junk.json").path
        try Data("not json".utf8).write(to: URL(fileURLWithPath: junk))
        XCTAssertThrowsError(try ResultFile.read(junk)) { e in
            guard case ResultFileError.unreadable = e else { return XCTFail("\(e)") }
        }
        XCTAssertThrowsError(try ResultFile.read(dir.appendingPathComponent("missing.json").path))
    }

    func testJSONValueRoundTripKeepsIntegersIntegral() throws {
        let text = #"{"a":[1,2.5,true,null,"x"],"b":{"c":4096}}"#
        let v = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        XCTAssertEqual(v.compact, text)
        XCTAssertEqual(try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(v)), v)
    }
}
