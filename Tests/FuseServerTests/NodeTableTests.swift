// The node table on a real ext4 directory, without a mount: lookup counts,
// the bounded descriptor cache, and resolution of ids it never saw.
import CFuseShim
import FuseServer
import Glibc
import TestSupport
import XCTest

final class NodeTableTests: XCTestCase {
    var dir: TempDir!
    var rootFd: Int32 = -1
    let stats = StatsRegion()

    override func setUpWithError() throws {
        dir = try TempDir("nodes")
        rootFd = open(dir.path, O_RDONLY | O_DIRECTORY)
        XCTAssertGreaterThanOrEqual(rootFd, 0)
    }

    override func tearDown() {
        close(rootFd)
        dir.remove()
    }

    func makeFiles(_ n: Int) {
        for i in 0..<n { close(open(dir.file("f\(i)"), O_WRONLY | O_CREAT, 0o644)) }
    }

    /// What a LOOKUP does: open O_PATH, read the handle, remember.
    func lookup(_ t: NodeTable, _ name: String) throws -> UInt64 {
        let fd = openat(rootFd, name, fbshim_O_PATH | O_NOFOLLOW)
        XCTAssertGreaterThanOrEqual(fd, 0)
        return try t.remember(BackingHandle.of(fd, "", flags: fbshim_AT_EMPTY_PATH), fd: fd)
    }

    func inode(of fd: Int32) -> UInt64 {
        var st = stat()
        XCTAssertEqual(fstatat(fd, "", &st, fbshim_AT_EMPTY_PATH), 0)
        return UInt64(st.st_ino)
    }

    func testDescriptorCacheStaysBoundedAndEveryIdStillResolves() throws {
        makeFiles(600)
        let t = try NodeTable(scheme: .handle, rootFd: rootFd, fdCapacity: 160, stats: stats)
        var ids: [UInt64] = []
        for i in 0..<600 { ids.append(try lookup(t, "f\(i)")) }
        XCTAssertEqual(t.count, 600)
        XCTAssertLessThanOrEqual(t.cachedDescriptors, 160 + 16, "cache bounded")
        for (i, id) in ids.enumerated() {
            var st = stat()
            XCTAssertEqual(lstat(dir.file("f\(i)"), &st), 0)
            let ino = try t.withFd(id) { (fd) throws(SysError) in inode(of: fd) }
            XCTAssertEqual(ino, UInt64(st.st_ino))
        }
        XCTAssertLessThanOrEqual(t.cachedDescriptors, 160 + 16)
        for id in ids { t.forget(id, 1) }
        XCTAssertEqual(t.count, 0)
        XCTAssertEqual(t.cachedDescriptors, 0)
    }

    func testLookupCountsAreKeptUntilForgotten() throws {
        makeFiles(1)
        let t = try NodeTable(scheme: .handle, rootFd: rootFd, fdCapacity: 100, stats: stats)
        let a = try lookup(t, "f0")
        let b = try lookup(t, "f0")
        XCTAssertEqual(a, b, "same file, same id")
        XCTAssertEqual(t.count, 1)
        t.forget(a, 1)
        XCTAssertEqual(t.count, 1, "one lookup left")
        t.forget(a, 1)
        XCTAssertEqual(t.count, 0)
    }

    func testAFreshTableResolvesIdsOfAnotherTable() throws {
        makeFiles(3)
        let first = try NodeTable(scheme: .handle, rootFd: rootFd, fdCapacity: 100, stats: stats)
        let ids = try (0..<3).map { try lookup(first, "f\($0)") }
        let second = try NodeTable(scheme: .handle, rootFd: rootFd, fdCapacity: 100, stats: stats)
        for (i, id) in ids.enumerated() {
            var st = stat()
            lstat(dir.file("f\(i)"), &st)
            XCTAssertEqual(try second.withFd(id) { (fd) throws(SysError) in inode(of: fd) }, UInt64(st.st_ino))
        }
    }

    /// A deleted file whose inode number is reused by a new file: the old id
    /// must not name the new file (the generation differs).
    func testReusedInodeNumberIsCaughtByTheGeneration() throws {
        close(open(dir.file("victim"), O_WRONLY | O_CREAT, 0o644))
        let t = try NodeTable(scheme: .handle, rootFd: rootFd, fdCapacity: 100, stats: stats)
        let old = try lookup(t, "victim")
        t.forget(old, 1)
        var st = stat()
        lstat(dir.file("victim"), &st)
        let oldIno = st.st_ino
        XCTAssertEqual(unlink(dir.file("victim")), 0)
        var reused: UInt64?
        for i in 0..<500 {
            close(open(dir.file("new\(i)"), O_WRONLY | O_CREAT, 0o644))
            lstat(dir.file("new\(i)"), &st)
            if st.st_ino == oldIno {
                reused = try lookup(t, "new\(i)")
                break
            }
        }
        let before = stats.region.pointee.unknown_nodes
        XCTAssertThrowsError(try t.acquire(old)) { XCTAssertEqual(($0 as? SysError)?.code, ESTALE) }
        XCTAssertEqual(stats.region.pointee.unknown_nodes, before + 1)
        if let reused {
            XCTAssertNotEqual(reused, old, "same inode number, other generation, other id")
            XCTAssertEqual(try t.withFd(reused) { (fd) throws(SysError) in inode(of: fd) }, UInt64(oldIno))
        }
    }

    func testEphemeralIdsAreUnknownToAnotherTable() throws {
        makeFiles(2)
        let first = try NodeTable(scheme: .ephemeral, rootFd: rootFd, fdCapacity: 100, stats: stats)
        let ids = try (0..<2).map { try lookup(first, "f\($0)") }
        XCTAssertEqual(ids, [2, 3])
        XCTAssertNoThrow(try first.withFd(ids[0]) { (_: Int32) throws(SysError) in })
        let second = try NodeTable(scheme: .ephemeral, rootFd: rootFd, fdCapacity: 100, stats: stats)
        XCTAssertThrowsError(try second.acquire(ids[0])) { XCTAssertEqual(($0 as? SysError)?.code, ESTALE) }
    }
}
