// The hazard scenarios, small, on real mounts through the built binary:
// each shipped scenario file with fewer files and two strategies, one
// expected to pass and one expected to fail, with the figures behind it.
import Foundation
import Glibc
import ResultModel
import TestSupport
import XCTest

final class HazardScenarioTests: XCTestCase {
    var dir: TempDir!

    override func setUpWithError() throws {
        try Isolation.requireMountSandbox()
        dir = try TempDir("hazard")
    }

    override func tearDown() {
        Isolation.assertNothingMounted(under: "/tmp")
        dir?.remove()
    }

    /// Runs workloads/hazards/`name`.json with `files` files under
    /// `strategies`; returns the scenario result of each strategy.
    func run(_ name: String, files: Int, _ strategies: [String], server: [String: Any] = [:],
             file: StaticString = #filePath, line: UInt = #line) throws -> [String: ScenarioResult] {
        let source = Binary.packageRoot + "/workloads/hazards/\(name).json"
        var w = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: source)))
                              as? [String: Any])
        var h = try XCTUnwrap(w["hazard"] as? [String: Any])
        h["files"] = files
        w["hazard"] = h
        w["strategies"] = strategies
        var s = w["server"] as? [String: Any] ?? [:]
        for (k, v) in server { s[k] = v }
        w["server"] = s
        let path = dir.file("\(name).json")
        try JSONSerialization.data(withJSONObject: w).write(to: URL(fileURLWithPath: path))
        let out = dir.file("\(name)-result.json")
        let r = try Binary.run(["run", path, "--output", out], timeout: 120)
        XCTAssertEqual(r.status, 0, r.stderr, file: file, line: line)
        XCTAssertTrue(r.stdout.contains("hazard scenarios"), r.stdout, file: file, line: line)
        try ResultSchema.assertValid(out, file: file, line: line)
        let doc = try ResultFile.read(out)
        let matrix = try XCTUnwrap(doc.matrix, file: file, line: line)
        XCTAssertEqual(matrix.map(\.strategy), strategies, file: file, line: line)
        var byStrategy: [String: ScenarioResult] = [:]
        for run in doc.runs { byStrategy[run.strategy ?? ""] = run.scenario }
        for cell in matrix {
            XCTAssertEqual(cell.outcome == "pass", byStrategy[cell.strategy]?.passed, file: file, line: line)
        }
        XCTAssertTrue(Isolation.fuseMounts().isEmpty, "\(Isolation.fuseMounts())", file: file, line: line)
        return byStrategy
    }

    func testInodeReuseIsCaughtByGenerationsAndNotByBareInodeNumbers() throws {
        let r = try run("inode-reuse", files: 60, ["handover-lazy", "handover-inode"])
        let lazy = try XCTUnwrap(r["handover-lazy"]), inode = try XCTUnwrap(r["handover-inode"])
        for s in [lazy, inode] {
            XCTAssertGreaterThan(s.figures["inodesReused"] ?? 0, 0, "the outage must reuse inode numbers: \(s.figures)")
            XCTAssertNil(s.inconclusive)
        }
        XCTAssertTrue(lazy.passed, "\(lazy.figures)")
        XCTAssertEqual(lazy.figures["wrongDataReads"], 0)
        XCTAssertFalse(inode.passed)
        XCTAssertGreaterThan(inode.figures["wrongDataReads"] ?? 0, 0, "bare inode numbers read the new files")
    }

    func testStaleAttributesAfterALazyRestartAndNotAfterTheStorm() throws {
        let r = try run("stale-attributes", files: 40, ["handover-eager", "handover-lazy"])
        let eager = try XCTUnwrap(r["handover-eager"]), lazy = try XCTUnwrap(r["handover-lazy"])
        XCTAssertTrue(eager.passed, "\(eager.figures)")
        XCTAssertFalse(lazy.passed)
        XCTAssertEqual(lazy.figures["staleAttributes"], 40, "every cached attribute outlives the change")
        XCTAssertEqual(lazy.figures["statErrors"], 0)
    }

    /// The composed strategies: the kept open files with a revalidation
    /// that makes attributes honest pass both scenarios that split the
    /// presets (without passthrough, where only the keeper keeps unlinked
    /// open files), which handover-epoch and handover-state each fail one of.
    func testComposedStrategiesPassWhatEachOfTheirPartsFails() throws {
        let composed = ["handover-state-epoch", "handover-state-eager"]
        let stale = try run("stale-attributes", files: 40, composed + ["handover-state"])
        for s in composed { XCTAssertTrue(try XCTUnwrap(stale[s]).passed, "\(s): \(stale[s]!.figures)") }
        XCTAssertFalse(try XCTUnwrap(stale["handover-state"]).passed)
        let open = try run("open-files", files: 16, composed + ["handover-epoch"], server: ["passthrough": false])
        for s in composed {
            let r = try XCTUnwrap(open[s])
            XCTAssertTrue(r.passed, "\(s): \(r.figures)")
            XCTAssertEqual(r.figures["unlinkedWhileOpen"], 2)
        }
        XCTAssertFalse(try XCTUnwrap(open["handover-epoch"]).passed)
    }

    func testResentNonIdempotentRequestsAreRecognisedOnlyWhenTheConnectionIsKept() throws {
        let r = try run("resent-non-idempotent", files: 4, ["handover-lazy", "remount"])
        let lazy = try XCTUnwrap(r["handover-lazy"]), remount = try XCTUnwrap(r["remount"])
        for s in [lazy, remount] { XCTAssertEqual(s.figures["crashesFired"], 4, "\(s.figures)") }
        XCTAssertTrue(lazy.passed, "\(lazy.figures)")
        XCTAssertGreaterThanOrEqual(lazy.figures["resentRequests"] ?? 0, 4)
        XCTAssertGreaterThanOrEqual(lazy.figures["resentRecognised"] ?? 0, 4, "every effect found done and recognised")
        XCTAssertFalse(remount.passed)
        XCTAssertEqual(remount.figures["spuriousErrors"], 4, "the effect happened, the application saw an error")
        XCTAssertEqual(remount.figures["missingEffects"], 0)
    }

    func testEphemeralIdsAreUnknownToTheNextServer() throws {
        let r = try run("ephemeral-ids", files: 40, ["handover-lazy", "handover-naive"])
        let lazy = try XCTUnwrap(r["handover-lazy"]), naive = try XCTUnwrap(r["handover-naive"])
        XCTAssertTrue(lazy.passed, "\(lazy.figures)")
        XCTAssertFalse(naive.passed)
        XCTAssertGreaterThanOrEqual(naive.figures["unknownNodeIds"] ?? 0, 40, "\(naive.figures)")
    }

    func testOpenFilesSurviveOnlyWhenTheKeeperHoldsThem() throws {
        // Without passthrough, reads and writes of an open file go through
        // the server's descriptor.
        let r = try run("open-files", files: 16, ["handover-state", "handover-lazy"], server: ["passthrough": false])
        let state = try XCTUnwrap(r["handover-state"]), lazy = try XCTUnwrap(r["handover-lazy"])
        XCTAssertTrue(state.passed, "\(state.figures)")
        XCTAssertEqual(state.figures["descriptors"], 16)
        XCTAssertEqual(state.figures["unlinkedWhileOpen"], 2)
        XCTAssertFalse(lazy.passed)
        // Reopening by handle works for linked files; an unlinked one died
        // with the server's last descriptor.
        XCTAssertEqual(lazy.figures["lostUnlinked"], 2, "\(lazy.figures)")
        XCTAssertEqual(lazy.figures["failedReads"], 2)
    }

    /// With FUSE passthrough the kernel holds every open file's backing
    /// file itself: unlinked-but-open files survive any strategy that keeps
    /// the connection, the keeper or not.
    func testPassthroughKeepsUnlinkedOpenFilesWithoutTheKeeper() throws {
        let r = try run("open-files", files: 16, ["handover-lazy"])
        let lazy = try XCTUnwrap(r["handover-lazy"])
        XCTAssertTrue(lazy.passed, "\(lazy.figures)")
        XCTAssertEqual(lazy.figures["unlinkedWhileOpen"], 2)
        XCTAssertEqual(lazy.figures["lostUnlinked"], 0)
    }

    /// Passthrough files held across a restart: their I/O needs no server
    /// (it completes during the outage), and a new open of each after the
    /// restart works only when the new server reuses the dead one's backing
    /// files (the naive server registers new ones: the kernel refuses).
    func testPassthroughOpensAfterARestartReuseTheBackingFiles() throws {
        let r = try run("passthrough-reopen", files: 24, ["handover-lazy", "handover-naive"])
        let lazy = try XCTUnwrap(r["handover-lazy"]), naive = try XCTUnwrap(r["handover-naive"])
        XCTAssertTrue(lazy.passed, "\(lazy.figures)")
        XCTAssertEqual(lazy.figures["descriptors"], 24)
        XCTAssertEqual(lazy.figures["ioDuringOutage"], 24, "no held descriptor waits for a server: \(lazy.figures)")
        XCTAssertFalse(naive.passed)
        XCTAssertEqual(naive.figures["failedReopens"], 24, "\(naive.figures)")
        XCTAssertEqual(naive.figures["ioDuringOutage"], 24)
        // Without passthrough, I/O on a held descriptor waits for the server.
        let off = try run("passthrough-reopen", files: 8, ["handover-lazy"], server: ["passthrough": false])
        let lazyOff = try XCTUnwrap(off["handover-lazy"])
        XCTAssertTrue(lazyOff.passed, "\(lazyOff.figures)")
        XCTAssertEqual(lazyOff.figures["ioDuringOutage"], 0, "\(lazyOff.figures)")
    }

    /// Regression (issue 11): a descriptor opened for writing and held
    /// across a restart, first used by FSYNC, FDATASYNC or LSEEK (which
    /// carry no open flags), was reopened read-only, and every later write
    /// failed with EBADF (sqlite's "disk I/O error").
    func testDescriptorsHeldAcrossARestartKeepTheirAccessMode() throws {
        let r = try run("held-descriptors", files: 32, ["handover-lazy", "handover-epoch", "remount"])
        for name in ["handover-lazy", "handover-epoch"] {
            let s = try XCTUnwrap(r[name])
            XCTAssertTrue(s.passed, "\(name): \(s.figures)")
            XCTAssertEqual(s.figures["descriptors"], 32)
            XCTAssertEqual(s.figures["failedSyncs"], 0, "\(name): \(s.figures)")
            XCTAssertEqual(s.figures["failedWrites"], 0, "\(name): \(s.figures)")
            XCTAssertEqual(s.figures["lostWrites"], 0, "\(name): \(s.figures)")
        }
        // A new connection: every held descriptor is gone.
        let remount = try XCTUnwrap(r["remount"])
        XCTAssertFalse(remount.passed)
        XCTAssertEqual(remount.figures["failedWrites"], 32, "\(remount.figures)")
    }

    /// Issue 18's restart safety of caches: pages and listings the kernel
    /// keeps across opens must not hide what changed while no server ran.
    func testCachedPagesAndListingsShowChangesMadeDuringTheOutage() throws {
        let r = try run("stale-caches", files: 40, ["handover-lazy", "handover-state"])
        for name in ["handover-lazy", "handover-state"] {
            let s = try XCTUnwrap(r[name])
            XCTAssertTrue(s.passed, "\(name): \(s.figures)")
            XCTAssertEqual(s.figures["filesProbed"], 40)
            XCTAssertGreaterThan(s.figures["directoriesProbed"] ?? 0, 0)
            XCTAssertEqual(s.figures["staleData"], 0, "\(name): \(s.figures)")
            XCTAssertEqual(s.figures["staleListings"], 0, "\(name): \(s.figures)")
        }
    }
}
