// Other FUSE servers as targets, on real mounts: libfuse's passthrough_ll
// (built by the Makefile) through --server and bench --peer, the null
// target, and servers that fail to mount.
import Foundation
import Glibc
import ResultModel
import TestSupport
import XCTest

final class PeerServerTests: XCTestCase {
    var dir: TempDir!

    override func setUpWithError() throws {
        try Isolation.requireMountSandbox()
        dir = try TempDir("peer")
    }

    override func tearDown() {
        Isolation.assertNothingMounted(under: "/tmp")
        dir?.remove()
    }

    /// The passthrough_ll command template, or a failed test.
    func passthroughLL() throws -> String {
        try Peers.passthroughLL(linkedIn: dir, options: "source={source},timeout={timeout},cache={cache},max_threads={threads}")
    }

    func processes(containing text: String) -> [String] { Peers.processes(containing: text) }

    func testExternalServerRunsTheWorkloadAndIsGoneAfterwards() throws {
        let out = dir.file("ext.json")
        let r = try Binary.run(["run", "workloads/smoke.json", "--server", try passthroughLL(), "--duration", "0.5",
                                "--warmup", "0.1", "--output", out, "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("smoke on passthrough_ll"), r.stdout)
        try ResultSchema.assertValid(out)
        let run = try XCTUnwrap(try ResultFile.read(out).runs.first)
        XCTAssertEqual(run.target, "passthrough_ll")
        let command = try XCTUnwrap(run.serverCommand)
        XCTAssertTrue(command.contains("source=/") && command.contains("/mnt") && !command.contains("{"), command)
        XCTAssertGreaterThan(run.total.count, 100)
        XCTAssertEqual(run.total.errorCount, 0, "\(run.total.errors)")
        XCTAssertNil(run.server, "an external server has no stats region")
        XCTAssertEqual(run.integrity?.clean, true, "every acknowledged write is on the backing files")
        XCTAssertEqual(processes(containing: Peers.passthroughLLLink(dir)).count, 0, "the server ended with the run")
    }

    func testServersThatDoNotMountAreReportedAndEnded() throws {
        let failing = try Binary.run(["run", "workloads/smoke.json", "--server", "broken=/bin/false {mountpoint}",
                                      "--quiet", "--output", dir.file("f.json")])
        XCTAssertEqual(failing.status, 1, failing.stderr)
        XCTAssertTrue(failing.stderr.contains("broken exited with 1 before mounting"), failing.stderr)
        let marker = "60.\(getpid())"
        let silent = try Binary.run(["run", "workloads/smoke.json", "--server",
                                     "silent=/bin/sh -c 'exec sleep \(marker)' {mountpoint}",
                                     "--quiet", "--output", dir.file("s.json")],
                                    environment: ["FUSEBENCH_READY_TIMEOUT": "1"])
        XCTAssertEqual(silent.status, 4, silent.stderr)
        XCTAssertTrue(silent.stderr.contains("did not mount"), silent.stderr)
        XCTAssertEqual(processes(containing: "sleep\0\(marker)").count, 0, "the server that never mounted was killed")
        let noMountpoint = try Binary.run(["run", "workloads/smoke.json", "--server", "x=/bin/true", "--quiet"])
        XCTAssertEqual(noMountpoint.status, 2)
        XCTAssertTrue(noMountpoint.stderr.contains("{mountpoint}"), noMountpoint.stderr)
        let mixed = try Binary.run(["run", "workloads/smoke.json", "--server", "x=/bin/true {mountpoint}",
                                    "--target", "native", "--quiet"])
        XCTAssertEqual(mixed.status, 2)
    }

    func testNullTargetMeasuresTheGeneratorAlone() throws {
        let out = dir.file("null.json")
        let r = try Binary.run(["run", "workloads/metadata.json", "--target", "null", "--duration", "0.3",
                                "--warmup", "0.1", "--output", out, "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let run = try XCTUnwrap(try ResultFile.read(out).runs.first)
        XCTAssertEqual(run.target, "null")
        XCTAssertEqual(run.total.errorCount, 0)
        XCTAssertEqual(Set(run.operations.keys), ["stat", "open", "readdir", "chmod"], "the mix is still followed")
        XCTAssertGreaterThan(run.total.count, 10_000)
    }

    func testBenchComparesTheReferenceServerWithAPeerInBothCacheModes() throws {
        let out = dir.file("bench.json")
        let r = try Binary.run(["bench", "workloads/metadata.json", "--peer", try passthroughLL(), "--null",
                                "--cache-modes", "off,on", "--thread-counts", "1", "--repeat", "1",
                                "--duration", "0.3", "--warmup", "0.1", "--output", out, "--quiet"], timeout: 180)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("reference / passthrough_ll"), r.stdout)
        try ResultSchema.assertValid(out)
        let doc = try ResultFile.read(out)
        XCTAssertEqual(doc.runs.count, 2 * 4)
        XCTAssertEqual(Set(doc.runs.map(\.target)), ["native", "reference", "passthrough_ll", "null"])
        let cs = try XCTUnwrap(doc.comparisons)
        for variant in ["metadata-off-1t", "metadata-on-1t"] {
            for (target, baseline) in [("reference", "native"), ("passthrough_ll", "native"), ("null", "native"),
                                       ("reference", "passthrough_ll")] {
                let c = cs.first { $0.workload == variant && $0.target == target && $0.baseline == baseline }
                XCTAssertGreaterThan(try XCTUnwrap(c, "\(variant) \(target)/\(baseline)").ratios["throughput"]?.value ?? 0, 0)
            }
        }
        // Caches off sends every stat to the server; on, the kernel answers.
        func serverLookups(_ variant: String) -> UInt64 {
            doc.runs.first { $0.workloadName == variant && $0.target == "reference" }?.server?.opcodes["GETATTR"]?.count ?? 0
        }
        XCTAssertGreaterThan(serverLookups("metadata-off-1t"), serverLookups("metadata-on-1t"))
    }

    /// A --variant is the reference server with changed options, run as a
    /// target of its own: here KILLPRIV_V2 off, which brings back the
    /// GETXATTR before every write that the default avoids.
    func testBenchVariantRunsTheReferenceServerWithItsOptions() throws {
        let out = dir.file("variant.json")
        // Without passthrough (so that writes reach the server), with and
        // without KILLPRIV_V2.
        let r = try Binary.run(["bench", "workloads/seqwrite.json", "--variant", "no-pt:passthrough=false",
                                "--variant", "no-killpriv-v2:passthrough=false,killPrivV2=false",
                                "--cache-modes", "off", "--thread-counts", "1", "--repeat", "1",
                                "--duration", "0.3", "--warmup", "0.1", "--output", out, "--quiet"], timeout: 180)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("no-killpriv-v2 / reference"), r.stdout)
        try ResultSchema.assertValid(out)
        let doc = try ResultFile.read(out)
        XCTAssertEqual(Set(doc.runs.map(\.target)), ["native", "reference", "no-pt", "no-killpriv-v2"])
        func run(_ t: String) throws -> RunResult { try XCTUnwrap(doc.runs.first { $0.target == t }) }
        func serverKillPriv(_ t: String) throws -> JSONValue? {
            guard case .object(let w) = try run(t).workload, case .object(let s)? = w["server"] else { return nil }
            return s["killPrivV2"]
        }
        XCTAssertEqual(try serverKillPriv("no-pt"), .bool(true))
        XCTAssertEqual(try serverKillPriv("no-killpriv-v2"), .bool(false), "the result records the variant's options")
        func counts(_ t: String) throws -> (writes: UInt64, getxattrs: UInt64) {
            let ops = try XCTUnwrap(try run(t).server).opcodes
            return (ops["WRITE"]?.count ?? 0, ops["GETXATTR"]?.count ?? 0)
        }
        // The default is passthrough: writes never reach the server.
        let ref = try XCTUnwrap(try run("reference").server)
        XCTAssertEqual(try counts("reference").writes, 0)
        XCTAssertGreaterThan(ref.passthroughOpens ?? 0, 10)
        XCTAssertEqual(try run("no-pt").server?.passthroughOpens, 0)
        let def = try counts("no-pt"), variant = try counts("no-killpriv-v2")
        XCTAssertGreaterThan(def.writes, 100)
        XCTAssertGreaterThan(variant.writes, 100)
        XCTAssertLessThan(def.getxattrs * 4, def.writes, "default: S_NOSEC spares most writes the GETXATTR")
        XCTAssertGreaterThanOrEqual(variant.getxattrs, variant.writes, "variant: one GETXATTR per write")
        let c = try XCTUnwrap(doc.comparisons?.first { $0.target == "no-killpriv-v2" && $0.baseline == "reference" })
        XCTAssertGreaterThan(c.ratios["throughput"]?.value ?? 0, 0)
        Isolation.assertNothingMounted(under: "/tmp")
    }

    func testBadVariantsAreRefusedBeforeAnythingRuns() throws {
        for (args, expected) in [(["--variant", "x:splize=true"], "server.splize"),
                                 (["--variant", "x:maxWrite=3"], "server.maxWrite"),
                                 (["--variant", "noequals"], "NAME:KEY=VALUE"),
                                 (["--variant", "a:splice=true", "--variant", "a:cloneFd=true"], "two targets are named"),
                                 (["--variant", "reference:splice=true"], "taken by a target")] {
            let r = try Binary.run(["bench", "workloads/smoke.json", "--output", dir.file("no.json")] + args)
            XCTAssertEqual(r.status, 2, "\(args): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(expected), "\(args): \(r.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir.file("no.json")), "nothing written")
        }
    }
}
