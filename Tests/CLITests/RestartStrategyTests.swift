// Crash injection and restart strategies on real mounts, through the built
// binary: each strategy and each fault kind, asserting what the strategy
// claims (no application errors, integrity), that no client hangs past the
// watchdog, and that nothing stays mounted.
import Foundation
import Glibc
import ResultModel
import TestSupport
import XCTest

final class RestartStrategyTests: XCTestCase {
    var dir: TempDir!

    override func setUpWithError() throws {
        try Isolation.requireMountSandbox()
        dir = try TempDir("restart")
    }

    override func tearDown() {
        Isolation.assertNothingMounted(under: "/tmp")
        dir?.remove()
    }

    /// Runs the smoke workload with `fault` under `strategy`; returns the run.
    func run(_ strategy: String, fault: String, duration: String = "1.2", env: [String: String] = [:],
             extra: [String] = [], file: StaticString = #filePath, line: UInt = #line) throws -> RunResult {
        let out = dir.file("\(strategy).json")
        let r = try Binary.run(["run", "workloads/smoke.json", "--strategy", strategy, "--fault", fault,
                                "--duration", duration, "--warmup", "0.1", "--output", out, "--quiet"] + extra,
                               environment: env, timeout: 120)
        XCTAssertEqual(r.status, 0, r.stderr, file: file, line: line)
        let doc = try ResultFile.read(out)
        XCTAssertEqual(doc.runs.count, 1, file: file, line: line)
        return doc.runs[0]
    }

    /// Properties every strategy must have after kills; integrity must be
    /// clean unless the strategy makes no claim (handover-naive).
    func assertCommon(_ run: RunResult, restarts: Int, integrityClaimed: Bool = true,
                      file: StaticString = #filePath, line: UInt = #line) throws {
        let faults = try XCTUnwrap(run.faults, file: file, line: line)
        let fired = faults.filter(\.triggered)
        XCTAssertGreaterThanOrEqual(fired.count, restarts, file: file, line: line)
        XCTAssertTrue(fired.allSatisfy(\.restarted), file: file, line: line)
        XCTAssertEqual(run.restartedServers?.count, fired.count, "one new server per fault", file: file, line: line)
        for f in fired {
            let outage = try XCTUnwrap(f.outageToServerReply, "fault \(f.index) has no outage", file: file, line: line)
            XCTAssertGreaterThan(outage.value, 0, file: file, line: line)
            XCTAssertLessThan(f.clientStall.value, 10e9, "no client hung", file: file, line: line)
        }
        let integrity = try XCTUnwrap(run.integrity, file: file, line: line)
        XCTAssertGreaterThan(integrity.bytesChecked, 0, file: file, line: line)
        if integrityClaimed {
            XCTAssertTrue(integrity.clean, "\(run.strategy ?? "") integrity: \(integrity)", file: file, line: line)
        }
    }

    func testHandoverLazyLosesNothingAndStallsBriefly() throws {
        let r = try run("handover-lazy", fault: "kill:every=0.35s")
        // Everything a handover records (its timeline, own resends, the
        // longest stall, the recovery control) is in the result schema.
        try ResultSchema.assertValid(dir.file("handover-lazy.json"))
        // The HTML report of this result: self-contained, one line per run, faults marked.
        let html = dir.file("report.html")
        let rep = try Binary.run(["report", dir.file("handover-lazy.json"), "--html", html])
        XCTAssertEqual(rep.status, 0, rep.stderr)
        let page = try String(contentsOfFile: html, encoding: .utf8)
        XCTAssertTrue(page.hasPrefix("<!doctype html>"))
        XCTAssertFalse(page.contains("http://") || page.contains("https://") || page.contains("<script"),
                       "no network, no scripts")
        XCTAssertGreaterThanOrEqual(page.components(separatedBy: "<polyline").count - 1, 2, "timeline and zoom")
        XCTAssertEqual(page.components(separatedBy: "stroke-dasharray").count - 1,
                       r.faults!.filter(\.triggered).count + 1, "one mark per fault, and the zoom's")
        XCTAssertTrue(page.contains("handover-lazy"))
        try assertCommon(r, restarts: 2)
        XCTAssertEqual(r.total.errors, [:], "handover-lazy claims no application errors")
        // The recovery measure's control, halfway between faults: what the
        // result holds is what the measure gives on the run's own timeline
        // and fault times (nil too when no control instant recovered before
        // the next fault); in the report beside the faults' recovery.
        var succeeded = r.timeline
        succeeded.completed = r.timeline.succeeded
        let at = r.faults!.filter(\.triggered).map { UInt64(($0.atSeconds * 1e9).rounded()) }
        if let expected = Recovery.controlTimeToThroughput(succeeded, faultsNs: at) {
            XCTAssertEqual(try XCTUnwrap(r.recoveryControl).value, Double(expected), accuracy: 1e3)
        } else {
            XCTAssertNil(r.recoveryControl)
        }
        XCTAssertTrue(page.contains("control ms"))
        // A run with faults has 1-ms buckets, and each fault's recovery is the
        // measure on them (to the next fault, or the end of the run).
        XCTAssertEqual(r.timeline.bucketMs, 1)
        for (n, f) in r.faults!.filter(\.triggered).enumerated() {
            let limit = n + 1 < at.count ? at[n + 1] : UInt64((r.measuredSeconds * 1e9).rounded())
            switch Recovery.outcome(succeeded, faultNs: at[n], limitNs: limit) {
            case .recovered(let ns):
                XCTAssertEqual(try XCTUnwrap(f.recoveryToThroughput, "fault \(n)").value, Double(ns), accuracy: 1e3)
            case .notWithin: XCTAssertNotNil(f.notRecoveredWithin, "fault \(n)")
            case .noBaseline: XCTAssertNil(f.recoveryToThroughput, "fault \(n)")
            }
        }
        // The longest stall of each fault, taken apart: its two parts add up
        // to it, and an operation started after the fault has none before.
        for f in r.faults!.filter(\.triggered) where f.clientStall.value > 0 {
            let l = try XCTUnwrap(f.longestStall, "fault \(f.index) stalled an operation: which one")
            XCTAssertEqual(l.beforeFault.value + l.afterFault.value, f.clientStall.value, accuracy: 1, "\(l)")
            XCTAssertNotNil(r.operations[l.operation], "\(l.operation) is an operation of the load")
        }
        XCTAssertTrue(page.contains("Where the longest stall goes"))
        let fired = r.faults!.filter(\.triggered)
        // A fault with no request pending (the ops in flight had just been
        // answered) has no operation to resume; some fault has one.
        XCTAssertTrue(fired.contains { $0.outageToClientResume != nil })
        for f in fired {
            if let resume = f.outageToClientResume, let outage = f.outageToServerReply {
                XCTAssertGreaterThanOrEqual(resume.value, outage.value, "a waiting op resumes after the server answers")
            }
            XCTAssertEqual(f.resentAnomalies, 0)
            // The timeline of the handover, in the order the steps must come.
            // The warm standby is let go at the death notice, before the
            // harness waits for the dead server's threads to leave the
            // device: its go, then its gate, first request and first reply;
            // and beside it the dead server's threads out, then the resend.
            let h = try XCTUnwrap(f.handover, "a handover records its timeline")
            let go = try XCTUnwrap(h.goSent, "a warm standby took over")
            let standby = [h.deathNoticed, go, try XCTUnwrap(h.gatePassed), try XCTUnwrap(h.firstRequestRead),
                           try XCTUnwrap(h.firstReply)]
            XCTAssertEqual(standby.map(\.value), standby.map(\.value).sorted(), "steps out of order: \(h)")
            XCTAssertLessThanOrEqual(go.value, h.threadsOut.value, "let go before the dead server's threads are out: \(h)")
            XCTAssertLessThanOrEqual(h.threadsOut.value, h.resendSent.value, "the resend after the threads are out: \(h)")
            XCTAssertEqual(h.deathNoticed.value, 0, "the harness's own kill is noticed at once")
            XCTAssertEqual(f.outageToServerReply?.value, h.firstReply?.value)
            XCTAssertEqual(h.floor, h.firstRequestRead?.value)
            // A request the resend re-delivered is answered after it.
            if let answered = h.resentAnswered {
                XCTAssertGreaterThanOrEqual(answered.value, h.resendSent.value, "\(h)")
                XCTAssertGreaterThan(f.resentRequests, 0, "answers to resent requests, so some were resent")
            }
        }
        // Some fault caught a client waiting on a request the dead server
        // had read (the one whose operation resumed after the outage): the
        // new server's last answer to such a request is recorded.
        XCTAssertTrue(fired.contains { $0.handover?.resentAnswered != nil }, "\(fired.map(\.resentRequests))")
        // Each warm standby rehearsed before it was ready: GETATTR and STATFS
        // of the root, OPENDIR, READDIR, RELEASEDIR, then LOOKUP, GETATTR,
        // GETXATTR and FORGET of an entry; counted in no other figure.
        XCTAssertNil(r.server?.rehearsedRequests, "the first server has no one to stand by for")
        for s in r.restartedServers ?? [] {
            XCTAssertEqual(s.rehearsedRequests, 9, "instance \(s.instance)")
        }
    }

    func testAStandbyLetGoAtTheDeathNoticeServesWhatItHadReadAgainAndNothingFails() throws {
        // Eight clients against four server threads, every request waiting
        // 2 ms in the server, and the resend 6 ms after the dead server's
        // threads are out: requests the dead server had not read reach the
        // standby, let go at the death notice, and it holds some when the
        // resend requeues every unanswered one, its own included. It serves those again (a RELEASE
        // it had read answers without releasing a second time), and no
        // application sees an error or loses data.
        let slow = ["FUSEBENCH_SERVER_DELAY_US": "2000", "FUSEBENCH_TEST_RESEND_DELAY_MS": "6"]
        let r = try run("handover-lazy", fault: "kill:every=0.3s", duration: "2.2", env: slow,
                        extra: ["--client-threads", "8"])
        try assertCommon(r, restarts: 5)
        XCTAssertEqual(r.total.errors, [:])
        let fired = r.faults!.filter(\.triggered)
        XCTAssertGreaterThan(fired.compactMap(\.resentOwn).reduce(0, +), 0,
                             "requests the standby had read were resent: \(fired.map(\.resentOwn))")
        for f in fired {
            XCTAssertLessThanOrEqual(f.resentOwn ?? 0, f.resentRequests, "own resends are some of the resends")
            XCTAssertEqual(f.resentAnomalies, 0)
        }
        // Let go after the resend instead, it has read nothing to be resent.
        let late = try run("handover-lazy", fault: "kill:every=0.3s", duration: "2.2",
                           env: slow.merging(["FUSEBENCH_STANDBY_GO": "resend"]) { $1 }, extra: ["--client-threads", "8"])
        try assertCommon(late, restarts: 5)
        XCTAssertEqual(late.total.errors, [:])
        XCTAssertEqual(late.faults!.filter(\.triggered).compactMap(\.resentOwn), [])
        for f in late.faults!.filter(\.triggered) {
            let h = try XCTUnwrap(f.handover)
            XCTAssertGreaterThanOrEqual(try XCTUnwrap(h.goSent).value, h.resendSent.value, "let go after the resend")
        }
    }

    func testHandoverEagerInvalidatesEverythingBeforeServing() throws {
        let r = try run("handover-eager", fault: "kill:every=0.35s")
        try assertCommon(r, restarts: 2)
        XCTAssertEqual(r.total.errors, [:])
        for f in r.faults!.filter(\.triggered) {
            XCTAssertGreaterThan(f.revalidation?.notifications ?? 0, 0, "the storm sent notifications")
            // The storm reads the journal the dead server's threads may still
            // append to: its standby is let go only after they are out and
            // the resend has gone, and so nothing it read is resent.
            let h = try XCTUnwrap(f.handover)
            let marks = [h.deathNoticed, h.threadsOut, h.resendSent, try XCTUnwrap(h.goSent), try XCTUnwrap(h.gatePassed)]
            XCTAssertEqual(marks.map(\.value), marks.map(\.value).sorted(), "steps out of order: \(h)")
            XCTAssertNil(f.resentOwn, "nothing of its own resent")
        }
    }

    func testHandoverEpochHasNoErrors() throws {
        let r = try run("handover-epoch", fault: "kill:every=0.35s")
        try assertCommon(r, restarts: 2)
        XCTAssertEqual(r.total.errors, [:])
    }

    func testRemountLosesTheConnection() throws {
        let r = try run("remount", fault: "kill:every=0.35s")
        try assertCommon(r, restarts: 2)
        let seen = Set(r.total.errors.keys)
        XCTAssertFalse(seen.isDisjoint(with: ["ENOTCONN", "ENOENT", "ECONNABORTED", "EBADF"]),
                       "remount shows applications errors: \(r.total.errors)")
    }

    func testMarkbadAndNaiveRefuseWhatTheyDoNotKnow() throws {
        for strategy in ["handover-markbad", "handover-naive"] {
            let r = try run(strategy, fault: "kill:every=0.35s")
            try assertCommon(r, restarts: 2, integrityClaimed: strategy != "handover-naive")
            let refused = r.faults!.reduce(0) { $0 + $1.unknownNodeIds + $1.refusedHandles }
            XCTAssertGreaterThan(refused, 0, "\(strategy) refused and counted unknown ids or handles")
        }
    }

    func testCrashInsideAnOperationBeforeAndAfterTheWork() throws {
        for phase in ["before", "after"] {
            // WRITEs reach the server only without FUSE passthrough.
            let r = try run("handover-lazy", fault: "crash-in-op:op=WRITE,phase=\(phase),at=0.2s",
                            extra: ["--server-option", "passthrough=false"])
            try assertCommon(r, restarts: 1)
            XCTAssertEqual(r.faults?.first?.detail, "WRITE \(phase)")
            XCTAssertEqual(r.total.errors, [:], "the resent WRITE completes (\(phase))")
            XCTAssertGreaterThanOrEqual(r.faults?.first?.resentRequests ?? 0, 1, "the WRITE in flight was resent")
        }
    }

    func testKillAfterRequests() throws {
        let r = try run("handover-lazy", fault: "kill:after=2000")
        try assertCommon(r, restarts: 1)
        XCTAssertEqual(r.faults?.first?.detail, "after 2000 requests")
        // Counted from the start of the measured phase; warm-up requests come on top.
        XCTAssertGreaterThanOrEqual(r.server?.requests ?? 0, 2000, "the first server answered 2000 measured requests")
        XCTAssertGreaterThan(r.faults?.first?.atSeconds ?? 0, 0)
    }

    func testHangResumedOrKilled() throws {
        let resumed = try run("handover-lazy", fault: "hang:at=0.2s,for=300ms,then=resume")
        let f = try XCTUnwrap(resumed.faults?.first)
        XCTAssertTrue(f.triggered)
        XCTAssertFalse(f.restarted, "a resumed server is not replaced")
        XCTAssertNil(resumed.restartedServers)
        XCTAssertGreaterThanOrEqual(f.clientStall.value, 0.25e9, "clients waited for the stopped server")
        XCTAssertEqual(resumed.total.errors, [:])

        let killed = try run("handover-lazy", fault: "hang:at=0.2s,for=200ms,then=kill")
        try assertCommon(killed, restarts: 1)
        XCTAssertEqual(killed.total.errors, [:])
    }

    func testNoRecoveryTripsTheWatchdogAndAbortsTheConnection() throws {
        let started = Date()
        let r = try Binary.run(["run", "workloads/smoke.json", "--strategy", "handover-lazy", "--fault", "kill:at=0.2s",
                                "--duration", "5", "--warmup", "0.1", "--quiet", "--output", dir.file("never.json")],
                               environment: ["FUSEBENCH_TEST_HANG_INSTANCE": "2", "FUSEBENCH_READY_TIMEOUT": "1"],
                               timeout: 60)
        XCTAssertEqual(r.status, 4, r.stderr)
        XCTAssertTrue(r.stderr.contains("did not answer FUSE_INIT"), r.stderr)
        XCTAssertLessThan(Date().timeIntervalSince(started), 30, "never hangs")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.file("never.json")))
    }

    func testFaultsWithoutAStrategyAreRefused() throws {
        let r = try Binary.run(["run", "workloads/smoke.json", "--fault", "kill:at=1s"])
        XCTAssertEqual(r.status, 2, r.stderr)
        XCTAssertTrue(r.stderr.contains("restart strategy"), r.stderr)
        let bad = try Binary.run(["run", "workloads/smoke.json", "--strategy", "reboot"])
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(bad.stderr.contains("handover-lazy"), bad.stderr)
        let badFault = try Binary.run(["run", "workloads/smoke.json", "--strategy", "remount", "--fault",
                                       "crash-in-op:op=FROB,at=1s"])
        XCTAssertEqual(badFault.status, 2)
        XCTAssertTrue(badFault.stderr.contains("unknown FUSE opcode"), badFault.stderr)
        // A crash in READ or WRITE never fires with passthrough on.
        let never = try Binary.run(["run", "workloads/smoke.json", "--strategy", "handover-lazy", "--fault",
                                    "crash-in-op:op=READ,at=0.2s"])
        XCTAssertEqual(never.status, 2, never.stderr)
        XCTAssertTrue(never.stderr.contains("passthrough=false") || never.stderr.contains("--server-option"), never.stderr)
        let badOption = try Binary.run(["run", "workloads/smoke.json", "--server-option", "passthru=false"])
        XCTAssertEqual(badOption.status, 2, badOption.stderr)
        XCTAssertTrue(badOption.stderr.contains("passthru"), badOption.stderr)
    }
}
