// Workload files: the shipped ones parse, a result's workload can be run
// again, and every malformed input names the file, the field and what is
// expected.
import Workload
import Foundation
import LoadGen
import ResultModel
import Supervisor
import TestSupport
import XCTest

final class WorkloadTests: XCTestCase {
    func testShippedWorkloadsParseAndRoundTrip() throws {
        let dir = Binary.packageRoot + "/workloads"
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".json") }
        for required in ["smoke", "metadata", "seqread", "seqwrite", "smallfiles", "mixed"] {
            XCTAssertTrue(files.contains("\(required).json"), required)
        }
        let hazards = try FileManager.default.contentsOfDirectory(atPath: dir + "/hazards").filter { $0.hasSuffix(".json") }
        XCTAssertEqual(Set(hazards.map { String($0.dropLast(5)) }), Set(HazardKind.allCases.map(\.rawValue)),
                       "one scenario per hazard")
        for f in files + hazards.map({ "hazards/" + $0 }) {
            for w in try Workload.loadPoints(path: "\(dir)/\(f)") {
                XCTAssertEqual(w.name + ".json", (f as NSString).lastPathComponent)
                XCTAssertFalse(w.description.isEmpty, f)
                var again = try Workload.parse(try JSONEncoder().encode(w.asRun), file: "asRun")
                again.sweepPoint = w.sweepPoint
                XCTAssertEqual(again, w, "the workload as run parses back to itself")
            }
        }
    }

    func testSweepsExpandIntoOneWorkloadPerValue() throws {
        let dir = try TempDir("sweepfile")
        let path = dir.file("s.json")
        try #"{"name":"s","mix":[{"op":"stat"}],"sweep":{"field":"fileset.filesPerDir","values":[1,10,100]}}"#
            .write(toFile: path, atomically: true, encoding: .utf8)
        let points = try Workload.loadPoints(path: path)
        XCTAssertEqual(points.map(\.load.fileset.filesPerDir), [1, 10, 100])
        XCTAssertEqual(points.map { $0.sweepPoint?.field }, ["fileset.filesPerDir", "fileset.filesPerDir", "fileset.filesPerDir"])
        try #"{"name":"s","mix":[{"op":"stat"}],"sweep":{"field":"name.x","values":[1]}}"#
            .write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try Workload.loadPoints(path: path)) { e in
            XCTAssertEqual((e as? WorkloadError)?.field, "sweep.field")
        }
        try #"{"name":"s","mix":[{"op":"stat"}],"sweep":{"field":"threads","values":[1, 0]}}"#
            .write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try Workload.loadPoints(path: path)) { e in
            XCTAssertEqual((e as? WorkloadError)?.field, "threads", "each point is checked like a workload")
        }
    }

    func testDefaultsAreFilledIn() throws {
        let w = try Workload.parse(Data(#"{"name":"x","mix":[{"op":"read"}]}"#.utf8), file: "x.json")
        XCTAssertEqual(w.load.threads, 1)
        XCTAssertEqual(w.load.mix, [OpSpec(op: .read, weight: 1, blockSize: 128 * 1024, size: 128 * 1024)])
        XCTAssertEqual(w.server.nodeIds, .handle)
        XCTAssertNil(w.load.rate)
    }

    func expectError(_ json: String, field: String, _ phrase: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try Workload.parse(Data(json.utf8), file: "bad.json"), file: file, line: line) { e in
            guard let e = e as? WorkloadError else { return XCTFail("\(e)", file: file, line: line) }
            XCTAssertEqual(e.file, "bad.json", file: file, line: line)
            XCTAssertEqual(e.field, field, file: file, line: line)
            XCTAssertTrue(e.description.contains(phrase), "'\(e.description)' lacks '\(phrase)'", file: file, line: line)
        }
    }

    func testMalformedWorkloadsNameTheFieldAndWhatIsExpected() {
        expectError("{ nope", field: "", "not valid JSON")
        expectError("[1]", field: "", "expected an object")
        expectError(#"{"mix":[{"op":"stat"}]}"#, field: "name", "is required")
        expectError(#"{"name":"a b","mix":[{"op":"stat"}]}"#, field: "name", "letters, digits")
        expectError(#"{"name":"x"}"#, field: "mix", "is required")
        expectError(#"{"name":"x","mix":[]}"#, field: "mix", "at least one")
        expectError(#"{"name":"x","mix":[{"op":"teleport"}]}"#, field: "mix[0].op", "unknown value \"teleport\"")
        expectError(#"{"name":"x","mix":[{"op":"stat","weight":"abc"}]}"#, field: "mix[0].weight", "positive weight")
        expectError(#"{"name":"x","mix":[{"op":"stat","weight":-1}]}"#, field: "mix[0].weight", "got -1")
        expectError(#"{"name":"x","mix":[{"op":"read","blockSize":"4 parsecs"}]}"#, field: "mix[0].blockSize", "size in bytes")
        expectError(#"{"name":"x","threads":0,"mix":[{"op":"stat"}]}"#, field: "threads", "1...256")
        expectError(#"{"name":"x","thread":2,"mix":[{"op":"stat"}]}"#, field: "thread", "unknown field")
        expectError(#"{"name":"x","duration":"soon","mix":[{"op":"stat"}]}"#, field: "duration", "duration")
        expectError(#"{"name":"x","fileset":{"dirs":2,"size":1},"mix":[{"op":"stat"}]}"#, field: "fileset.size", "unknown field")
        expectError(#"{"name":"x","server":{"nodeIds":"pointer"},"mix":[{"op":"stat"}]}"#, field: "server.nodeIds", "handle, ephemeral")
        expectError(#"{"name":"x","server":{"writebackCache":"yes"},"mix":[{"op":"stat"}]}"#, field: "server.writebackCache", "true or false")
        // Hazard scenarios.
        expectError(#"{"name":"x","hazard":{"kind":"meteor","expect":{"a":0}}}"#, field: "hazard.kind", "inode-reuse")
        expectError(#"{"name":"x","hazard":{"kind":"inode-reuse"}}"#, field: "hazard.expect", "wrongDataReads")
        expectError(#"{"name":"x","hazard":{"kind":"inode-reuse","expect":{"staleSize":0}}}"#, field: "hazard.expect.staleSize",
                    "no such figure")
        expectError(#"{"name":"x","hazard":{"kind":"open-files","expect":{"failedReads":"none"}}}"#,
                    field: "hazard.expect.failedReads", "number")
        expectError(#"{"name":"x","hazard":{"kind":"open-files","files":1,"expect":{"failedReads":0}}}"#,
                    field: "hazard.files", "4...100000")
        expectError(#"{"name":"x","hazard":{"kind":"open-files","expect":{"failedReads":0}},"mix":[]}"#, field: "mix",
                    "unknown field")
    }

    func testClientsParseAndTheirMistakesNameTheField() throws {
        let w = try Workload.parse(Data(#"{"name":"x","clients":[{"name":"a","run":"make -C {dir}","timeout":"2m"}]}"#.utf8),
                                   file: "c.json")
        XCTAssertEqual(w.clients, [ClientSpec(name: "a", run: "make -C {dir}", timeout: 120)])
        XCTAssertEqual(w.load.threads, 0, "no mix: the clients are the whole load")
        XCTAssertTrue(w.load.mix.isEmpty)
        // What a run records can be run again.
        let again = try Workload.parse(JSONEncoder().encode(w.asRun), file: "again.json")
        XCTAssertEqual(again.clients, w.clients)
        expectError(#"{"name":"x","clients":[{"name":"a"}]}"#, field: "clients[0].run", "is required")
        expectError(#"{"name":"x","clients":[{"name":"a","run":" "}]}"#, field: "clients[0].run", "empty")
        expectError(#"{"name":"x","clients":[{"name":"a b","run":"true"}]}"#, field: "clients[0].name", "letters")
        expectError(#"{"name":"x","clients":[{"name":"a","run":"cat {mnt}/f"}]}"#, field: "clients[0].run",
                    "unknown placeholder {mnt}")
        expectError(#"{"name":"x","clients":[{"name":"a","run":"true"},{"name":"a","run":"false"}]}"#, field: "clients",
                    "two clients are named")
        expectError(#"{"name":"x","duration":2,"clients":[{"name":"a","run":"true"}]}"#, field: "duration",
                    "until the last client exits")
        expectError(#"{"name":"x","threads":2,"clients":[{"name":"a","run":"true"}]}"#, field: "threads", "mix")
        XCTAssertEqual(ClientSpec.expand("cd {dir} && ls", ["dir": "/m/it's"]), #"cd '/m/it'\''s' && ls"#)
        XCTAssertEqual(try ClientSpec.parse("FOO=1 make", index: 0, timeout: 5).name, "client1")
        XCTAssertEqual(try ClientSpec.parse("build=make", index: 0, timeout: 5).run, "make")
    }

    func testMissingFileIsAnError() {
        XCTAssertThrowsError(try Workload.load(path: "/nonexistent/w.json")) { e in
            XCTAssertEqual((e as? WorkloadError)?.file, "/nonexistent/w.json")
        }
    }
}
