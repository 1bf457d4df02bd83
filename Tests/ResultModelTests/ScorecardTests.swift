// The scorecard's verdicts, computed from synthetic runs with known
// outcomes (the end-to-end cards are made on real mounts by the CLI tests
// and `make scorecards`).
import ResultModel
import XCTest

final class ScorecardTests: XCTestCase {
    /// A faulted run of `strategy`: `deaths` deaths after restarts, errors,
    /// integrity clean or not.
    func faulted(_ strategy: String, deaths: Int = 0, errors: [String: UInt64] = [:], clean: Bool = true,
                 abandoned: String? = nil) -> RunResult {
        var r = Synthetic.run("srv", throughput: 100, p50: 1000, trial: 0)
        r.trial = nil
        r.strategy = strategy
        r.total.errors = errors
        var kill = FaultEvent(index: 0, kind: "kill", detail: nil, atSeconds: 1)
        kill.triggered = true
        kill.outageToServerReply = .nanoseconds(2_000_000)
        var events = [kill]
        for i in 0..<deaths {
            var d = FaultEvent(index: i + 1, kind: "death", detail: "was killed by signal 11", atSeconds: 1)
            d.triggered = true
            events.append(d)
        }
        r.faults = events
        r.integrity = IntegrityReport(filesChecked: 10, wrongFileReads: clean ? 0 : 3)
        r.abandoned = abandoned
        return r
    }

    /// A hazard-scenario run.
    func scenario(_ hazard: String, _ strategy: String, passed: Bool, died: String? = nil,
                  figures: [String: Double] = [:]) -> RunResult {
        var r = Synthetic.run("srv", throughput: 0, p50: 1, trial: 0)
        r.trial = nil
        r.strategy = strategy
        var sc = ScenarioResult(hazard: hazard, expectation: "x",
                                checks: [ScenarioCheck(figure: died != nil ? "died" : "errors", measured: passed ? 0 : 1,
                                                       maximum: 0)],
                                figures: figures)
        sc.died = died
        r.scenario = sc
        return r
    }

    func testVerdictsFollowWhatTheRunsShowed() {
        let runs = [
            faulted("remount", errors: ["ENOTCONN": 40]),
            faulted("handover-lazy"),
            faulted("handover-epoch"),
            scenario("open-files", "remount", passed: false),
            scenario("ephemeral-ids", "handover-lazy", passed: true,
                     figures: ["filesProbed": 400, "applicationErrors": 0, "wrongDataReads": 0]),
            scenario("stale-attributes", "handover-lazy", passed: false),
            scenario("ephemeral-ids", "handover-epoch", passed: true,
                     figures: ["filesProbed": 400, "applicationErrors": 0, "wrongDataReads": 0]),
            scenario("stale-attributes", "handover-epoch", passed: true),
        ]
        let card = Scorecard(server: "srv", command: "srv {mountpoint}", runs: runs)
        XCTAssertEqual(card.strategies.map(\.strategy), ["remount", "handover-lazy", "handover-epoch"])
        XCTAssertEqual(card.strategies.map(\.verdict), ["supported with errors", "partly", "supported"])
        XCTAssertEqual(card.strategies[0].applicationErrors, 40)
        XCTAssertEqual(card.strategies[0].needs, [], "remount's failures are remount's own")
        XCTAssertEqual(card.strategies[1].hazardsFailed, ["stale-attributes"])
        XCTAssertTrue(card.strategies[1].needs.first?.contains("revalidation") == true, "\(card.strategies[1].needs)")
        XCTAssertEqual(card.strategies[2].outage, 2_000_000)
        XCTAssertEqual(card.nodeIdStability.map(\.resolved), [400, 400])
        XCTAssertTrue(card.verdict.contains("supports remount, handover-epoch"), card.verdict)
        XCTAssertTrue(card.verdict.contains("partly: handover-lazy"), card.verdict)
    }

    func testAServerThatCrashesOnResumeSupportsNoHandover() {
        let runs = [
            faulted("remount", errors: ["ENOENT": 5]),
            faulted("handover-lazy", deaths: 3, abandoned: "srv was killed by signal 11 on its own"),
            faulted("handover-epoch", clean: false),
            scenario("ephemeral-ids", "handover-lazy", passed: false, died: "srv was killed by signal 11",
                     figures: ["died": 1]),
        ]
        let card = Scorecard(server: "srv", command: nil, runs: runs)
        XCTAssertEqual(card.strategies.map(\.verdict), ["supported with errors", "not supported", "not supported"])
        XCTAssertEqual(card.strategies[1].deaths, 3)
        XCTAssertEqual(card.strategies[1].hazardsFailed, ["ephemeral-ids"])
        XCTAssertEqual(card.strategies[1].needs.count, 1, "a death says nothing more specific: \(card.strategies[1].needs)")
        XCTAssertTrue(card.strategies[1].needs[0].contains("crashed"))
        XCTAssertEqual(card.strategies[2].integrity, "FAILED")
        XCTAssertTrue(card.strategies[2].needs.contains { $0.contains("wrong file") })
        XCTAssertEqual(card.nodeIdStability.first?.resolved, 0)
        XCTAssertEqual(card.nodeIdStability.first?.failure, "srv was killed by signal 11")
        XCTAssertTrue(card.verdict.contains("supports remount as it is; no handover: it crashed"), card.verdict)
    }
}

extension ScorecardTests {
    func testAFailedRealProgramMakesAHandoverPartly() {
        func step(_ status: Int) -> ClientStep {
            ClientStep(command: "x", exitStatus: status, signal: nil, timedOut: false, seconds: 1, stderrTail: "")
        }
        var programs = faulted("handover-lazy")
        programs.clients = [ClientResult(name: "sqlite", setup: step(0), run: step(1), verify: nil, startSeconds: 0,
                                         faultsDuring: 2),
                            ClientResult(name: "tar", setup: step(0), run: step(0), verify: step(0), startSeconds: 0,
                                         faultsDuring: 2)]
        let card = Scorecard(server: "srv", command: nil, runs: [faulted("handover-lazy"), programs])
        let s = card.strategies[0]
        XCTAssertEqual(s.verdict, "partly")
        XCTAssertEqual(s.clients, 2)
        XCTAssertEqual(s.clientsFailed, ["sqlite"])
        XCTAssertTrue(s.needs.contains { $0.contains("failed: sqlite") }, "\(s.needs)")
    }
}
