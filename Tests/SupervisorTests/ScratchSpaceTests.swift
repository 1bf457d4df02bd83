// Scratch directories of dead runs are swept; live ones are not.
import Workload
import Foundation
import Glibc
import Supervisor
import TestSupport
import XCTest

final class ScratchSpaceTests: XCTestCase {
    func testSweepRemovesUnlockedRunsOnly() throws {
        let base = try TempDir("sweep")
        setenv("FUSEBENCH_SCRATCH", base.path, 1)
        defer { unsetenv("FUSEBENCH_SCRATCH") }
        let root = "\(base.path)/fusebench-scratch"
        // A dead run: its lock file exists but nobody holds it.
        let dead = "\(root)/run-99999-dead"
        try FileManager.default.createDirectory(atPath: "\(dead)/backing", withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: "\(dead)/lock", contents: nil)
        let live = try ScratchSpace()
        XCTAssertFalse(FileManager.default.fileExists(atPath: dead), "dead run swept")
        XCTAssertTrue(FileManager.default.fileExists(atPath: live.path))
        // A second run must not sweep the first while it holds its lock.
        let other = try ScratchSpace()
        XCTAssertTrue(FileManager.default.fileExists(atPath: live.path), "live run kept")
        other.remove()
        live.remove()
        XCTAssertFalse(FileManager.default.fileExists(atPath: live.path))
    }

    /// A directory kept with FUSEBENCH_KEEP_SCRATCH is never swept, not even
    /// once its run has ended (issue 11: a concurrent run's sweep deleted one).
    func testKeptDirectoriesAreNeverSwept() throws {
        let base = try TempDir("sweep-kept")
        setenv("FUSEBENCH_SCRATCH", base.path, 1)
        defer { unsetenv("FUSEBENCH_SCRATCH"); base.remove() }
        setenv("FUSEBENCH_KEEP_SCRATCH", "1", 1)
        let kept = try ScratchSpace()
        _ = FileManager.default.createFile(atPath: kept.file("server.log"), contents: Data("evidence".utf8))
        kept.remove()
        unsetenv("FUSEBENCH_KEEP_SCRATCH")
        // Its lock is free now: without the mark, the next run would sweep it.
        let next = try ScratchSpace()
        XCTAssertTrue(FileManager.default.fileExists(atPath: kept.file("server.log")), "kept directory swept")
        next.remove()
        XCTAssertFalse(FileManager.default.fileExists(atPath: next.path), "an ordinary run's directory is removed")
        XCTAssertTrue(FileManager.default.fileExists(atPath: kept.path))
    }
}
