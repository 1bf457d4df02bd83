// The node table on a real ext4 directory, without a mount: lookup counts,
// the bounded descriptor cache, and resolution of ids it never saw.
import CFuseShim
import Contract
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

    func stInode(_ name: String) -> UInt64 {
        var st = stat()
        XCTAssertEqual(lstat(dir.file(name), &st), 0)
        return UInt64(st.st_ino)
    }

    /// The one-fstatat lookup: an inode the table holds open is found by its
    /// number alone, counts a lookup, and yields the id the full lookup
    /// gave; an inode it does not hold (never seen, evicted, forgotten) is
    /// left to the full lookup.
    func testLiveInodesAreFoundByNumberAndOthersAreNot() throws {
        makeFiles(300)
        for scheme in [NodeIdScheme.handle, .inode] {
            let t = try NodeTable(scheme: scheme, rootFd: rootFd, fdCapacity: 160, stats: stats)
            XCTAssertNil(t.rememberLive(inode: stInode("f0")), "\(scheme): never looked up")
            let id = try lookup(t, "f0")
            XCTAssertEqual(t.rememberLive(inode: stInode("f0")), id, "\(scheme): held open, found by number")
            t.forget(id, 2)
            XCTAssertEqual(t.count, 0, "\(scheme): rememberLive counted one lookup, forgotten with the first")
            XCTAssertNil(t.rememberLive(inode: stInode("f0")), "\(scheme): forgotten")
            // Many more files than descriptors: the early ones are evicted.
            let ids = try (1..<300).map { try lookup(t, "f\($0)") }
            XCTAssertLessThanOrEqual(t.cachedDescriptors, 160 + 16)
            var found = 0
            for (k, i) in (1..<300).enumerated() {
                if let live = t.rememberLive(inode: stInode("f\(i)")) {
                    XCTAssertEqual(live, ids[k], "\(scheme): f\(i) found by number names the same node")
                    found += 1
                }
            }
            XCTAssertGreaterThan(found, 0, "\(scheme): the cached ones are found")
            XCTAssertLessThan(found, 299, "\(scheme): the evicted ones are not")
        }
        let eph = try NodeTable(scheme: .ephemeral, rootFd: rootFd, fdCapacity: 64, stats: stats)
        _ = try lookup(eph, "f0")
        XCTAssertNil(eph.rememberLive(inode: stInode("f0")), "ephemeral ids always take the full lookup")
    }

    /// While the table holds a deleted file open, its inode number cannot
    /// be given to a new file, so a number found live is never a reuse.
    func testAHeldDeletedInodeKeepsItsNumber() throws {
        makeFiles(1)
        let t = try NodeTable(scheme: .handle, rootFd: rootFd, fdCapacity: 100, stats: stats)
        let old = stInode("f0")
        _ = try lookup(t, "f0")
        XCTAssertEqual(unlink(dir.file("f0")), 0)
        for i in 0..<200 { close(open(dir.file("n\(i)"), O_WRONLY | O_CREAT, 0o644)) }
        for i in 0..<200 {
            XCTAssertNotEqual(stInode("n\(i)"), old, "a held inode's number is not reused")
            XCTAssertNil(t.rememberLive(inode: stInode("n\(i)")), "new files are not in the table")
        }
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
