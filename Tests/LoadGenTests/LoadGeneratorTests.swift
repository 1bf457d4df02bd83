// The load generator against a plain directory: every operation runs
// without error, counts and timeline agree, pacing never exceeds its rate.
import Foundation
import Glibc
import LoadGen
import TestSupport
import XCTest

final class LoadGeneratorTests: XCTestCase {
    func spec(_ mix: [OpSpec], threads: Int = 2, duration: Double = 0.4) -> LoadSpec {
        var s = LoadSpec()
        s.threads = threads
        s.warmup = 0.05
        s.duration = duration
        s.fileset.dirs = 2
        s.fileset.filesPerDir = 8
        s.fileset.fileSize = 8192
        s.mix = mix
        return s
    }

    func testFilesetHasTheRightFilesAndPattern() throws {
        let dir = try TempDir("fileset")
        var fs = FilesetSpec()
        fs.dirs = 3
        fs.filesPerDir = 5
        fs.fileSize = 5000
        let set = Fileset(spec: fs, root: dir.path)
        try set.build(threads: 2)
        XCTAssertEqual(set.allFiles().count, 15)
        for (i, path) in set.allFiles().enumerated() {
            let d = try XCTUnwrap(FileManager.default.contents(atPath: path))
            XCTAssertEqual(d.count, 5000)
            let sector = d.withUnsafeBytes { SectorStamp.read($0.baseAddress! + 4096, offset: 4096) }
            XCTAssertEqual(sector, SectorStamp.Reading(valid: true, file: UInt32(i), stamp: 0, intact: true))
        }
        var st = stat()
        XCTAssertEqual(lstat(set.privateDir(1), &st), 0)
    }

    func testEveryOperationRunsAndCountsAgree() throws {
        let dir = try TempDir("load")
        let s = spec(OpKind.allCases.map { OpSpec(op: $0, weight: 1) })
        try Fileset(spec: s.fileset, root: dir.path).build(threads: s.threads)
        let result = LoadGenerator(spec: s, root: dir.path).run()
        XCTAssertFalse(result.stoppedEarly)
        XCTAssertEqual(result.measuredSeconds, 0.4)
        XCTAssertGreaterThan(result.total.count, 0)
        XCTAssertEqual(result.total.errors, [:], "no operation fails on a plain directory")
        for k in OpKind.allCases {
            XCTAssertGreaterThan(result.operations[k.rawValue]?.count ?? 0, 0, "\(k) ran")
        }
        XCTAssertEqual(result.operations.values.reduce(0) { $0 + $1.count }, result.total.count)
        XCTAssertEqual(result.timeline.completed.reduce(0, +), result.total.count)
        XCTAssertEqual(result.timeline.completed.count, 40, "0.4 s in 10 ms buckets")
        XCTAssertEqual(result.total.throughput.value, Double(result.total.count) / 0.4, accuracy: 0.001)
        XCTAssertGreaterThan(result.operations["read"]!.bandwidth.value, 0)
        let lat = result.total.latency
        XCTAssertTrue(lat.min <= lat.p50 && lat.p50 <= lat.p99 && lat.p99 <= lat.max)
    }

    func testErrorsAreCountedByErrno() throws {
        let dir = try TempDir("errors")
        let s = spec([OpSpec(op: .stat, weight: 1)], threads: 1, duration: 0.1)
        // No fileset built: every stat fails with ENOENT.
        let result = LoadGenerator(spec: s, root: dir.path).run()
        let failed = result.total.errorCount
        XCTAssertGreaterThan(failed, 0)
        XCTAssertEqual(result.operations["stat"]?.errors, ["ENOENT": failed])
        XCTAssertEqual(result.timeline.errors.reduce(0, +), failed)
        // Failed operations are not throughput, bandwidth or latency.
        XCTAssertEqual(result.total.count, 0)
        XCTAssertEqual(result.total.throughput.value, 0)
        XCTAssertEqual(result.total.latency.count, 0)
        XCTAssertEqual(result.total.errorRate, Double(failed) / 0.1, accuracy: 0.001)
        XCTAssertGreaterThanOrEqual(result.issued["stat"] ?? 0, failed)
    }

    func testAFixedOperationCountEndsThePhase() throws {
        let dir = try TempDir("fixed")
        var s = spec([OpSpec(op: .stat, weight: 1)], threads: 2, duration: 30)
        s.warmup = 0
        s.operations = 500
        let started = Date()
        let result = LoadGenerator(spec: s, root: dir.path).run()
        XCTAssertLessThan(Date().timeIntervalSince(started), 20, "ended by the count, not by the 30 s duration")
        XCTAssertEqual(result.total.attempted, 1000, "500 operations per thread")
        XCTAssertEqual(result.issued["stat"], 1000)
        XCTAssertFalse(result.stoppedEarly)
        XCTAssertLessThan(result.measuredSeconds, 30)
    }

    func testOpenLoopNeverExceedsItsRate() throws {
        let dir = try TempDir("rate")
        var s = spec([OpSpec(op: .stat, weight: 1)], threads: 2, duration: 0.5)
        s.rate = 400
        try Fileset(spec: s.fileset, root: dir.path).build(threads: 2)
        let result = LoadGenerator(spec: s, root: dir.path).run()
        // At most one operation per slot: 400/s over 0.5 s, plus one per thread.
        XCTAssertLessThanOrEqual(result.total.count, 202)
        XCTAssertGreaterThan(result.total.count, 0)
    }

    func testStopEndsTheRunEarly() throws {
        let dir = try TempDir("stop")
        let s = spec([OpSpec(op: .stat, weight: 1)], threads: 2, duration: 60)
        try Fileset(spec: s.fileset, root: dir.path).build(threads: 2)
        let gen = LoadGenerator(spec: s, root: dir.path)
        var calls = 0
        let result = gen.run(progress: { _ in
            calls += 1
            if calls == 3 { gen.control.stop() }
        })
        XCTAssertTrue(result.stoppedEarly)
        XCTAssertLessThan(result.measuredSeconds, 5)
    }
}
