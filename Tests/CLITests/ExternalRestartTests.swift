// Faults and restarts of servers the harness did not write, on real mounts:
// remount of libfuse's passthrough_ll, a handover through the preload shim
// (the reference server run as an outside command, which resumes), a server
// that crashes on resume (passthrough_ll, whose node ids are pointers), and
// the refusals: a program without libfuse, a strategy that needs our server,
// a server that never answers INIT.
import Contract
import Foundation
import Glibc
import ResultModel
import TestSupport
import XCTest

final class ExternalRestartTests: XCTestCase {
    var dir: TempDir!

    override func setUpWithError() throws {
        try Isolation.requireMountSandbox()
        dir = try TempDir("extrestart")
        guard access(Binary.packageRoot + "/.build/preload/libfusebench-preload.so", R_OK) == 0 else {
            XCTFail(".build/preload/libfusebench-preload.so is missing: `make test` builds it")
            throw XCTSkip("no preload shim")
        }
    }

    override func tearDown() {
        Isolation.assertNothingMounted(under: "/tmp")
        dir?.remove()
    }

    func passthroughLL() throws -> String {
        try Peers.passthroughLL(linkedIn: dir, options: "source={source},timeout={timeout},cache={cache}")
    }

    /// This test's link to passthrough_ll (unique per test directory).
    var ownLL: String { Peers.passthroughLLLink(dir) }

    /// The reference server as an outside command: it knows only what the
    /// template tells it ({instance}, {state}), as any other server would.
    var referenceCommand: String {
        "outside=\(Binary.path) serve --source {source} --instance {instance} --state-dir {state} --keeper-fd={keeper} "
            + "--threads {threads} {mountpoint}"
    }

    /// How many live processes have `text` in their command line.
    func processes(containing text: String) -> Int { Peers.processes(containing: text).count }

    func run(_ server: String, strategy: String, environment: [String: String] = [:]) throws -> (Binary.Outcome, RunResult?) {
        let out = dir.file("\(strategy).json")
        let r = try Binary.run(["run", "workloads/smoke.json", "--server", server, "--strategy", strategy,
                                "--fault", "kill:at=0.5s", "--duration", "1.5", "--warmup", "0.2",
                                "--output", out, "--quiet"], environment: environment)
        guard r.status == 0 else { return (r, nil) }
        try ResultSchema.assertValid(out)
        return (r, try ResultFile.read(out).runs.first)
    }

    func testRemountRestartsAnotherServerAndMeasuresItThroughTheShim() throws {
        let (r, result) = try run(try passthroughLL(), strategy: "remount")
        XCTAssertEqual(r.status, 0, r.stderr)
        let run = try XCTUnwrap(result)
        let fault = try XCTUnwrap(run.faults?.first)
        XCTAssertTrue(fault.triggered && fault.restarted, "\(fault)")
        XCTAssertNotNil(fault.outageToServerReply, "the shim records the new server's first reply")
        XCTAssertGreaterThan(try XCTUnwrap(run.server).requests, 100, "the shim counts the first server's requests")
        XCTAssertEqual(run.restartedServers?.count, 1)
        XCTAssertGreaterThan(run.restartedServers?.first?.requests ?? 0, 0, "the second server served")
        // A remount loses the connection: the load sees it.
        XCTAssertGreaterThan(run.total.errorCount, 0, "remount shows applications the restart")
        XCTAssertEqual(run.integrity?.clean, true, "\(String(describing: run.integrity))")
        XCTAssertEqual(processes(containing: ownLL), 0, "no server outlives the run")
    }

    func testPreloadShimHandsALiveConnectionToTheNextInstance() throws {
        let (r, result) = try run(referenceCommand, strategy: "handover-lazy")
        XCTAssertEqual(r.status, 0, r.stderr)
        let run = try XCTUnwrap(result)
        let fault = try XCTUnwrap(run.faults?.first)
        XCTAssertTrue(fault.triggered && fault.restarted, "\(fault)")
        XCTAssertNotNil(fault.outageToServerReply)
        XCTAssertEqual(run.restartedServers?.count, 1)
        XCTAssertGreaterThan(run.restartedServers?.first?.requests ?? 0, 0, "the resumed instance served")
        // The connection was kept: no ENOTCONN, no lost files, nothing wrong.
        XCTAssertEqual(run.total.errorCount, 0, "\(run.total.errors)")
        XCTAssertEqual(run.integrity?.clean, true)
        XCTAssertNil(run.abandoned)
        XCTAssertEqual(processes(containing: Binary.path + "\0serve"), 0)
    }

    /// The reference server started by hand on a connection someone else
    /// keeps ({mountpoint} is /dev/fd/N), with no state directory: it still
    /// leaves no idle passthrough backing ids on the connection (they would
    /// hold their backing inodes after its death until the unmount), while
    /// the same server on a mount of its own keeps them idle for the next open.
    func testAServerOnAKeptConnectionLeavesNoIdleBackingFiles() throws {
        let template = "outside=\(Binary.path) serve --source {source} --instance {instance} "
            + "--stats-file \(dir.path)/stats-{instance} --threads {threads} {mountpoint}"
        let (r, result) = try run(template, strategy: "handover-lazy")
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try XCTUnwrap(result).restartedServers?.count, 1)
        for instance in 1...2 {
            let report = try StatsRegion(path: dir.file("stats-\(instance)"), create: false).report()
            XCTAssertGreaterThan(report.passthroughOpens ?? 0, 10, "instance \(instance) opened files with passthrough")
            XCTAssertEqual(report.backingFilesIdle, 0, "instance \(instance) left backing ids idle on a kept connection")
        }
        // The control: the same server mounting for itself keeps ids idle.
        let own = dir.file("own-stats")
        let (r2, _) = try run("outside=\(Binary.path) serve --source {source} --stats-file \(own) "
                              + "--threads {threads} {mountpoint}", strategy: "remount")
        XCTAssertEqual(r2.status, 0, r2.stderr)
        XCTAssertGreaterThan(try StatsRegion(path: own, create: false).report().backingFilesIdle ?? 0, 0,
                             "a server on a mount of its own leaves closed files' backing ids idle")
    }

    /// A server that speaks the keeper protocol ({keeper}) keeps files
    /// unlinked while open across a restart under handover-state, and loses
    /// them under handover-lazy (FUSE passthrough off: the kernel's backing
    /// files would keep them otherwise).
    func testKeeperHoldsOpenFilesForAServerThatSpeaksItsProtocol() throws {
        let out = dir.file("keeper.json")
        let r = try Binary.run(["run", "workloads/hazards/open-files.json", "--server",
                                referenceCommand.replacingOccurrences(of: " {mountpoint}", with: " --no-passthrough {mountpoint}"),
                                "--strategy", "handover-lazy,handover-state", "--output", out, "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)
        try ResultSchema.assertValid(out)
        let runs = try ResultFile.read(out).runs
        let lazy = try XCTUnwrap(runs.first { $0.strategy == "handover-lazy" }?.scenario)
        let state = try XCTUnwrap(runs.first { $0.strategy == "handover-state" }?.scenario)
        XCTAssertFalse(lazy.passed, "without the keeper, unlinked open files die with the server: \(lazy.figures)")
        XCTAssertGreaterThan(lazy.figures["lostUnlinked"] ?? 0, 0)
        XCTAssertTrue(state.passed, "\(state.checks)")
        XCTAssertEqual(state.figures["unlinkedWhileOpen"] ?? 0, 4)
    }

    func testServerThatCrashesOnResumeIsCaughtAndTheRunEnds() throws {
        // passthrough_ll's node ids are pointers into the dead process.
        let started = Date()
        let (r, result) = try run(try passthroughLL(), strategy: "handover-lazy",
                                  environment: ["FUSEBENCH_WATCHDOG_SECONDS": "10"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertLessThan(Date().timeIntervalSince(started), 60, "never a hang")
        let run = try XCTUnwrap(result)
        let deaths = (run.faults ?? []).filter { $0.kind == "death" }
        // What the resumed server does with ids it never issued shows up as
        // deaths, a run given up, errors or wrong data: never as a clean run.
        XCTAssertTrue(!deaths.isEmpty || run.abandoned != nil || run.total.errorCount > 0
                      || run.integrity?.clean == false,
                      "passthrough_ll resumed with pointer node ids and nothing showed it: \(run.total.errors)")
        if let why = run.abandoned { XCTAssertTrue(why.contains("passthrough_ll"), why) }
        XCTAssertTrue(r.stdout.contains("died on its own") || deaths.isEmpty, r.stdout)
        XCTAssertEqual(processes(containing: ownLL), 0)
    }

    func testBadRestartRequestsAreRefusedWithTheirExitCodes() throws {
        // A program that is not linked with libfuse cannot be handed a connection.
        let notFuse = try Binary.run(["run", "workloads/smoke.json", "--server", "sleeper=/bin/sleep 30 {mountpoint}",
                                      "--strategy", "handover-lazy", "--fault", "kill:at=0.5s", "--quiet"])
        XCTAssertEqual(notFuse.status, 2, notFuse.stderr)
        XCTAssertTrue(notFuse.stderr.contains("not linked with libfuse"), notFuse.stderr)
        // Strategies built on the reference server's own node ids or keeper.
        let eager = try Binary.run(["run", "workloads/smoke.json", "--server", try passthroughLL(),
                                    "--strategy", "handover-eager", "--fault", "kill:at=0.5s", "--quiet"])
        XCTAssertEqual(eager.status, 2, eager.stderr)
        XCTAssertTrue(eager.stderr.contains("remount, handover-lazy, handover-epoch"), eager.stderr)
        let unknown = try Binary.run(["run", "workloads/smoke.json", "--server", try passthroughLL(),
                                      "--strategy", "handover-sometimes", "--fault", "kill:at=0.5s", "--quiet"])
        XCTAssertEqual(unknown.status, 2, unknown.stderr)
        XCTAssertTrue(unknown.stderr.contains("handover-sometimes"), unknown.stderr)
        // A server handed the connection that never answers INIT.
        let marker = "61.\(getpid())"
        let script = dir.file("silent.sh")
        try "#!/bin/sh\nexec sleep \(marker)\n".write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        let silent = try Binary.run(["run", "workloads/smoke.json", "--server", "silent=\(script) {mountpoint}",
                                     "--strategy", "handover-lazy", "--fault", "kill:at=0.5s", "--quiet"],
                                    environment: ["FUSEBENCH_READY_TIMEOUT": "1"])
        XCTAssertEqual(silent.status, 4, silent.stderr)
        XCTAssertTrue(silent.stderr.contains("did not answer FUSE_INIT"), silent.stderr)
        XCTAssertEqual(processes(containing: "sleep\0\(marker)"), 0, "the silent server was killed")
    }
}

extension ExternalRestartTests {
    /// A card on real mounts, from a small workloads directory: the
    /// strategy runs and two scenarios.
    func testScorecardRatesPassthroughLLFromRealRuns() throws {
        let w = dir.file("workloads")
        try FileManager.default.createDirectory(atPath: w + "/hazards", withIntermediateDirectories: true)
        let root = Binary.packageRoot + "/workloads"
        try FileManager.default.copyItem(atPath: root + "/crash-compare.json", toPath: w + "/crash-compare.json")
        for h in ["ephemeral-ids", "held-descriptors"] {
            try FileManager.default.copyItem(atPath: "\(root)/hazards/\(h).json", toPath: "\(w)/hazards/\(h).json")
        }
        let out = dir.file("card.json"), html = dir.file("card.html")
        let r = try Binary.run(["scorecard", "--server", try passthroughLL(), "--workloads", w, "--duration", "3", "--no-clients",
                                "--output", out, "--html", html, "--quiet"],
                               environment: ["FUSEBENCH_WATCHDOG_SECONDS": "10"], timeout: 300)
        XCTAssertEqual(r.status, 0, r.stderr)
        try ResultSchema.assertValid(out)
        let doc = try ResultFile.read(out)
        XCTAssertEqual(doc.kind, "scorecard")
        let card = try XCTUnwrap(doc.scorecard)
        XCTAssertEqual(card.server, "passthrough_ll")
        XCTAssertEqual(card.strategies.map(\.strategy), ["remount", "handover-lazy", "handover-epoch", "handover-state"])
        XCTAssertEqual(card.strategies[0].verdict, "supported with errors")
        XCTAssertGreaterThan(card.strategies[0].applicationErrors, 0, "a remount shows")
        XCTAssertEqual(card.strategies[0].hazardsPassed.count + card.strategies[0].hazardsFailed.count, 2)
        // Pointer node ids: no handover works, and the card says why.
        for s in card.strategies.dropFirst() {
            XCTAssertEqual(s.verdict, "not supported", "\(s)")
            XCTAssertFalse(s.needs.isEmpty)
        }
        XCTAssertEqual(card.nodeIdStability.count, 3)
        XCTAssertTrue(card.nodeIdStability.allSatisfy { $0.failure != nil || $0.resolved < $0.filesProbed },
                      "\(card.nodeIdStability)")
        XCTAssertTrue(card.verdict.contains("no handover"), card.verdict)
        XCTAssertTrue(r.stdout.contains("scorecard of passthrough_ll"), r.stdout)
        let page = try String(contentsOfFile: html, encoding: .utf8)
        XCTAssertTrue(page.contains("Scorecard: passthrough_ll") && page.contains("not supported"))
        XCTAssertEqual(processes(containing: ownLL), 0)
    }
}
