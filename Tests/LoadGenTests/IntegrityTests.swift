// Sector stamps and the post-run verification: clean runs verify clean,
// and lost writes, foreign data and corruption are each caught.
import Foundation
import Glibc
import LoadGen
import TestSupport
import XCTest

final class IntegrityTests: XCTestCase {
    func testStampRoundTripAndDamage() {
        let p = UnsafeMutableRawPointer.allocate(byteCount: 1024, alignment: 8)
        defer { p.deallocate() }
        SectorStamp.fill(p, count: 1024, file: 7, offset: 4096, stamp: 42)
        XCTAssertEqual(SectorStamp.read(p + 512, offset: 4608),
                       SectorStamp.Reading(valid: true, file: 7, stamp: 42, intact: true))
        XCTAssertFalse(SectorStamp.read(p, offset: 0).intact, "the header says where the sector belongs")
        p.storeBytes(of: 0xFF, toByteOffset: 700, as: UInt8.self)
        XCTAssertFalse(SectorStamp.read(p + 512, offset: 4608).intact)
    }

    func testVerificationCatchesLostForeignAndCorruptSectors() throws {
        let dir = try TempDir("integrity")
        var s = LoadSpec()
        s.threads = 2
        s.warmup = 0
        s.duration = 0.3
        s.fileset.dirs = 1
        s.fileset.filesPerDir = 4
        s.fileset.fileSize = 16384
        s.mix = [OpSpec(op: .write, weight: 1, blockSize: 4096, size: 4096), OpSpec(op: .read, weight: 1),
                 OpSpec(op: .create, weight: 1, size: 4096)]
        try Fileset(spec: s.fileset, root: dir.path).build(threads: 2)
        let result = LoadGenerator(spec: s, root: dir.path).run()
        var report = IntegrityVerifier.verify(root: dir.path, spec: s, ledgers: result.ledgers)
        XCTAssertTrue(report.clean, "\(report)")
        XCTAssertGreaterThan(report.filesChecked, 4)
        XCTAssertEqual(report.wrongFileReads, 0)

        // Damage: file 0 gets file 1's first sector, file 2's written sectors
        // go back to their original content, one created file vanishes.
        let files = Fileset(spec: s.fileset, root: dir.path).allFiles()
        let one = try XCTUnwrap(FileManager.default.contents(atPath: files[1]))
        let fd0 = open(files[0], O_WRONLY)
        _ = one.withUnsafeBytes { pwrite(fd0, $0.baseAddress, 512, 0) }
        close(fd0)
        let original = UnsafeMutableRawPointer.allocate(byteCount: 16384, alignment: 8)
        defer { original.deallocate() }
        SectorStamp.fill(original, count: 16384, file: 2, offset: 0, stamp: 0)
        let fd2 = open(files[2], O_WRONLY)
        pwrite(fd2, original, 16384, 0)
        close(fd2)
        let created = try XCTUnwrap(result.ledgers.flatMap(\.created.keys).first)
        XCTAssertEqual(unlink("\(dir.path)/\(created)"), 0)
        report = IntegrityVerifier.verify(root: dir.path, spec: s, ledgers: result.ledgers)
        XCTAssertGreaterThanOrEqual(report.foreignBlocks, 1)
        XCTAssertGreaterThan(report.lostBytes, 0, "the overwritten acknowledged writes are lost")
        XCTAssertEqual(report.missingFiles, 1)
        XCTAssertFalse(report.clean)
    }
}
