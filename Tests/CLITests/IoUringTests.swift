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
}
