// Running the built fusebench binary, as a user would.
import Foundation
import Glibc
import XCTest

/// The built `fusebench` next to the test bundle.
public enum Binary {
    /// Path of the binary ($FUSEBENCH_BIN overrides).
    public static var path: String {
        if let p = getenv("FUSEBENCH_BIN") { return String(cString: p) }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        if dir.lastPathComponent.hasSuffix(".xctest") { dir = dir.deletingLastPathComponent() }
        return dir.appendingPathComponent("fusebench").path
    }

    /// The package root (where workloads/ is).
    public static var packageRoot: String {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url = url.deletingLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url.path }
        }
        return FileManager.default.currentDirectoryPath
    }

    /// What a finished command produced.
    public struct Outcome {
        /// Exit status (128+signal when killed).
        public var status: Int32
        /// Standard output.
        public var stdout: String
        /// Standard error.
        public var stderr: String
    }

    /// Runs the binary (or `executable`) with `arguments` from the package
    /// root, with extra environment; kills it after `timeout` seconds.
    public static func run(_ arguments: [String], environment: [String: String] = [:],
                           executable: String? = nil, timeout: Double = 120) throws -> Outcome {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable ?? path)
        p.arguments = arguments
        p.currentDirectoryURL = URL(fileURLWithPath: packageRoot)
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        // Output goes to files: no pipe can fill up, nothing is shared.
        let dir = try TempDir("out")
        _ = FileManager.default.createFile(atPath: dir.file("out"), contents: nil)
        _ = FileManager.default.createFile(atPath: dir.file("err"), contents: nil)
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: dir.file("out")))
        let err = try FileHandle(forWritingTo: URL(fileURLWithPath: dir.file("err")))
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let finished = p.finish(within: timeout)
        let status = !finished ? 124 : p.terminationReason == .uncaughtSignal ? 128 + p.terminationStatus
                                                                              : p.terminationStatus
        try? out.close()
        try? err.close()
        return Outcome(status: status,
                       stdout: (try? String(contentsOfFile: dir.file("out"), encoding: .utf8)) ?? "",
                       stderr: (try? String(contentsOfFile: dir.file("err"), encoding: .utf8)) ?? "")
    }
}

extension Process {
    /// Waits up to `seconds` for the process to exit, then kills it and
    /// waits 10 s more; false if it still has not ended (the test fails
    /// on its status instead of hanging in waitUntilExit).
    public func finish(within seconds: Double) -> Bool {
        func wait(_ s: Double) -> Bool {
            let deadline = Date().addingTimeInterval(s)
            while isRunning && Date() < deadline { usleep(20_000) }
            return !isRunning
        }
        if wait(seconds) { return true }
        kill(processIdentifier, SIGKILL)
        return wait(10)
    }
}

/// The result JSON Schema.
public enum ResultSchema {
    /// Validates a result file against results/schema with python's
    /// jsonschema (Draft 2020-12, formats checked).
    public static func assertValid(_ path: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let script = """
            import json, sys, jsonschema
            schema = json.load(open(sys.argv[2]))
            jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(json.load(open(sys.argv[1])))
            """
        let r = try Binary.run(["python3", "-c", script, path, Binary.packageRoot + "/results/schema/result-v1.schema.json"],
                               executable: "/usr/bin/env", timeout: 60)
        XCTAssertEqual(r.status, 0, "schema validation: \(r.stderr)", file: file, line: line)
    }
}
