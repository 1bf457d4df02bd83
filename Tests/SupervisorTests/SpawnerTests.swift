// The spawner: children's exit statuses reported at once, their zombies
// reaped a moment later (off a handover's first milliseconds), none left.
import Foundation
import Glibc
@testable import Supervisor
import TestSupport
import XCTest

final class SpawnerTests: XCTestCase {
    /// Whether `pid` is still a process (a zombie counts: not yet reaped).
    func exists(_ pid: pid_t) -> Bool { FileManager.default.fileExists(atPath: "/proc/\(pid)") }

    func testExitStatusesAreReportedAndEveryChildIsReaped() throws {
        let spawner = try Spawner(executable: Binary.path)
        let exited = try spawner.spawn(executable: "/bin/sh", arguments: ["-c", "exit 3"], descriptors: [],
                                       logPath: "/dev/null")
        let killed = try spawner.spawn(executable: "/bin/sleep", arguments: ["60"], descriptors: [],
                                       logPath: "/dev/null")
        killed.signal(SIGKILL)
        // The statuses as waitpid gives them, though the spawner reaps later.
        let a = try XCTUnwrap(exited.wait(timeout: 10), "exit status of sh")
        XCTAssertTrue(a & 0x7f == 0 && (a >> 8) & 0xff == 3, "exited with 3: status \(a)")
        let b = try XCTUnwrap(killed.wait(timeout: 10), "exit status of sleep")
        XCTAssertEqual(b & 0x7f, SIGKILL, "killed by SIGKILL: status \(b)")
        // Reaped by the spawner while it runs: no zombie stays.
        XCTAssertTrue(waitUntil(10) { !exists(exited.pid) && !exists(killed.pid) },
                      "a child of the spawner was never reaped")
        XCTAssertTrue(exists(spawner.pid), "the spawner still runs")
    }

    /// A child that exited just before the spawner ends is reaped too.
    func testChildrenAreReapedWhenTheSpawnerEnds() throws {
        var pids: (spawner: pid_t, child: pid_t) = (0, 0)
        do {
            // The child holds its spawner: both go at the end of this scope.
            let spawner = try Spawner(executable: Binary.path)
            let child = try spawner.spawn(executable: "/bin/sh", arguments: ["-c", "exit 0"], descriptors: [],
                                          logPath: "/dev/null")
            XCTAssertEqual(child.wait(timeout: 10), 0)
            pids = (spawner.pid, child.pid)
        }
        XCTAssertFalse(exists(pids.spawner), "the spawner was waited for")
        // Reaped by the spawner before it exited, not left to init.
        XCTAssertFalse(exists(pids.child), "the child was left a zombie")
    }
}
