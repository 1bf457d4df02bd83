// FUSE over io_uring on real mounts: requests travel through the server's
// rings when the module parameter allows it, and a harness asked for it
// where it does not says so, exit 3. The test sets the parameter itself
// (root may; it needs CONFIG_FUSE_IO_URING, which this project's machines
// have) and puts back what it found.
import Contract
import Foundation
import Glibc
import ResultModel
import TestSupport
import XCTest

final class IoUringTests: XCTestCase {
    var dir: TempDir!
    var saved: String?

    override func setUpWithError() throws {
        try Isolation.requireMountSandbox()
        dir = try TempDir("uring")
        saved = try String(contentsOfFile: KernelFeatures.enableUringPath, encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    override func tearDown() {
        if let saved { setEnableUring(saved) }
        Isolation.assertNothingMounted(under: "/tmp")
        dir?.remove()
    }

    func setEnableUring(_ value: String) {
        XCTAssertNoThrow(try value.write(toFile: KernelFeatures.enableUringPath, atomically: false, encoding: .utf8))
    }

    func run(_ workload: String, _ extra: [String]) throws -> (Binary.Outcome, RunResult?) {
        let out = dir.file(UUID().uuidString + ".json")
        let r = try Binary.run(["run", "workloads/\(workload).json", "--duration", "0.6", "--warmup", "0.1",
                                "--output", out, "--quiet"] + extra, timeout: 120)
        guard r.status == 0 else { return (r, nil) }
        try ResultSchema.assertValid(out)
        return (r, try ResultFile.read(out).runs.first)
    }

    /// With the parameter on, every queue registers and the load's reads,
    /// writes and metadata requests come through the rings (FORGET and
    /// INTERRUPT still come through /dev/fuse).
    func testRequestsTravelThroughTheRings() throws {
        setEnableUring("Y")
        let (r, run) = try run("smoke", ["--server-option", "ioUring=true", "--server-option", "passthrough=false"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let s = try XCTUnwrap(run?.server)
        XCTAssertEqual(s.ioUringQueues, UInt64(sysconf(Int32(_SC_NPROCESSORS_CONF))), "one queue per CPU")
        XCTAssertNil(s.ioUringError)
        XCTAssertTrue(s.initFlagsAdded?.contains("OVER_IO_URING") ?? false)
        XCTAssertGreaterThan(s.opcodes["WRITE"]?.count ?? 0, 0)
        XCTAssertGreaterThan(s.opcodes["READ"]?.count ?? 0, 0)
        // Nearly everything after INIT came through the rings.
        XCTAssertGreaterThan(Double(s.ioUringRequests ?? 0), 0.9 * Double(s.requests), "\(s)")
        XCTAssertEqual(run?.total.errors, [:])
        XCTAssertEqual(run?.integrity?.clean, true)
    }

    /// The parameter off: a clear error naming it, exit 3, before anything
    /// mounts; `serve --io-uring` likewise.
    func testWithoutTheModuleParameterItIsAClearError() throws {
        setEnableUring("N")
        let (r, _) = try run("smoke", ["--server-option", "ioUring=true"])
        XCTAssertEqual(r.status, 3, r.stderr)
        XCTAssertTrue(r.stderr.contains("enable_uring"), r.stderr)
        let src = dir.file("src"), mnt = dir.file("mnt")
        for d in [src, mnt] { try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true) }
        let s = try Binary.run(["serve", "--io-uring", "--source", src, mnt], timeout: 30)
        XCTAssertEqual(s.status, 3, s.stderr)
        XCTAssertTrue(s.stderr.contains("echo Y > /sys/module/fuse/parameters/enable_uring"), s.stderr)
    }

    /// Restarts through io_uring: a restart with nothing in flight works
    /// (the new server registers its queues on the live connection and
    /// kicks each, held passthrough files reopen), but a request the dead
    /// server had taken from its ring is never resent (kernel 6.18): the
    /// scenario is a failed verdict with the reason, never a hang.
    func testRestartsThroughTheRings() throws {
        setEnableUring("Y")
        func scenario(_ name: String, files: Int) throws -> ScenarioResult {
            let source = Binary.packageRoot + "/workloads/hazards/\(name).json"
            var w = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: source)))
                                  as? [String: Any])
            var h = try XCTUnwrap(w["hazard"] as? [String: Any])
            h["files"] = files
            w["hazard"] = h
            w["strategies"] = ["handover-lazy"]
            var server = w["server"] as? [String: Any] ?? [:]
            server["ioUring"] = true
            w["server"] = server
            let path = dir.file("\(name).json"), out = dir.file("\(name)-out.json")
            try JSONSerialization.data(withJSONObject: w).write(to: URL(fileURLWithPath: path))
            let r = try Binary.run(["run", path, "--output", out], environment: ["FUSEBENCH_WATCHDOG_SECONDS": "3"],
                                   timeout: 120)
            XCTAssertEqual(r.status, 0, r.stderr)
            try ResultSchema.assertValid(out)
            let run = try XCTUnwrap(try ResultFile.read(out).runs.first)
            XCTAssertEqual(run.restartedServers?.first?.ioUringQueues, UInt64(sysconf(Int32(_SC_NPROCESSORS_CONF))))
            return try XCTUnwrap(run.scenario)
        }
        let reopen = try scenario("passthrough-reopen", files: 16)
        XCTAssertTrue(reopen.passed, "\(reopen.figures)")
        XCTAssertNil(reopen.hung)
        let resent = try scenario("resent-non-idempotent", files: 4)
        XCTAssertFalse(resent.passed)
        XCTAssertEqual(resent.figures["hung"], 1)
        XCTAssertTrue(resent.hung?.contains("fuse_resend") ?? false, resent.hung ?? "no reason")
    }
}
