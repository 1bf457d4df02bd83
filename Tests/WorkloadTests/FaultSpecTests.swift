// Fault specs: the command-line form, the workload form, schedules, and
// the errors for malformed ones.
import Workload
import Foundation
import LoadGen
import Contract
import Supervisor
import TestSupport
import XCTest

final class FaultSpecTests: XCTestCase {
    func testCommandLineForms() throws {
        XCTAssertEqual(try FaultSpec.parse("kill:every=2s"), FaultSpec(kind: .kill, trigger: .every(2)))
        XCTAssertEqual(try FaultSpec.parse("kill:at=500ms"), FaultSpec(kind: .kill, trigger: .at(0.5)))
        XCTAssertEqual(try FaultSpec.parse("kill:after=20000"), FaultSpec(kind: .kill, trigger: .afterRequests(20000)))
        XCTAssertEqual(try FaultSpec.parse("crash-in-op:op=write,phase=after,at=1s"),
                       FaultSpec(kind: .crashInOp(opcode: .write, phase: .after), trigger: .at(1)))
        XCTAssertEqual(try FaultSpec.parse("hang:at=1s,for=250ms,then=kill"),
                       FaultSpec(kind: .hang(seconds: 0.25, then: .kill), trigger: .at(1)))
    }

    func testBadSpecsNameTheProblem() {
        for (text, phrase) in [("explode:at=1s", "unknown fault"), ("kill", "exactly one of"),
                               ("kill:at=1s,every=2s", "exactly one of"), ("hang:after=10", "only a kill"),
                               ("crash-in-op:op=NOPE,at=1s", "unknown FUSE opcode"),
                               ("crash-in-op:op=READ,phase=during,at=1s", "\"before\""),
                               ("kill:at=soon", "duration"), ("kill:at", "key=value")] {
            XCTAssertThrowsError(try FaultSpec.parse(text), text) { e in
                XCTAssertTrue("\(e)".contains(phrase), "\(text): \(e)")
            }
        }
    }

    func testSchedules() {
        XCTAssertEqual(FaultSpec(kind: .kill, trigger: .every(2)).times(duration: 7), [2, 4, 6])
        XCTAssertEqual(FaultSpec(kind: .kill, trigger: .every(2)).times(duration: 6), [2, 4])
        XCTAssertEqual(FaultSpec(kind: .kill, trigger: .at(3)).times(duration: 2), [])
        XCTAssertNil(FaultSpec(kind: .kill, trigger: .afterRequests(5)).times(duration: 2))
    }

    func testWorkloadFaultsAndStrategiesRoundTrip() throws {
        let json = #"""
            {"name":"w","mix":[{"op":"stat"}],
             "faults":[{"kind":"kill","every":"2s"},{"kind":"hang","at":1,"for":"100ms","then":"resume"}],
             "strategies":["remount","handover-lazy"]}
            """#
        let w = try Workload.parse(Data(json.utf8), file: "w.json")
        XCTAssertEqual(w.faults.count, 2)
        XCTAssertEqual(w.strategies, [.remount, .handoverLazy])
        XCTAssertEqual(try Workload.parse(JSONEncoder().encode(w.asRun), file: "again"), w)
        XCTAssertThrowsError(try Workload.parse(Data(#"{"name":"w","mix":[{"op":"stat"}],"strategies":["x"]}"#.utf8),
                                                file: "w.json")) { e in
            XCTAssertEqual((e as? WorkloadError)?.field, "strategies[0]")
        }
        let shipped = try Workload.load(path: Binary.packageRoot + "/workloads/crash-compare.json")
        XCTAssertEqual(shipped.strategies.count, Strategy.allCases.count, "crash-compare runs every strategy")
        XCTAssertFalse(shipped.faults.isEmpty)
    }

    /// A strategy is its parts; the composed ones are the kept open files
    /// with a revalidation, and every property follows from the parts.
    func testStrategiesAreMadeOfTheirParts() {
        for s in Strategy.allCases {
            XCTAssertEqual(s.keepsConnection, s.parts.keeper == .harness, s.rawValue)
            XCTAssertEqual(s.keepsOpenFiles, s.parts.state == .openFiles, s.rawValue)
            XCTAssertEqual(s.eagerRevalidation, s.parts.revalidation == .eager, s.rawValue)
            XCTAssertEqual(s.incrementsEpoch, s.parts.revalidation == .epoch, s.rawValue)
            XCTAssertEqual(s.forcedNodeIds ?? .handle, s.parts.nodeIds, s.rawValue)
        }
        XCTAssertEqual(Strategy.handoverStateEpoch.parts,
                       StrategyParts(keeper: .harness, nodeIds: .handle, revalidation: .epoch, state: .openFiles))
        XCTAssertEqual(Strategy.handoverStateEager.parts.revalidation, .eager)
        XCTAssertTrue(Strategy.handoverStateEager.claimsNoErrors && Strategy.handoverStateEpoch.claimsIntegrity)
        // Each distinct combination of parts is one strategy.
        XCTAssertEqual(Set(Strategy.allCases.map(\.parts.description)).count, Strategy.allCases.count)
    }
}
