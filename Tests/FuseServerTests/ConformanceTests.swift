// Every operation of the reference server gives the same results on the
// mount as the same system calls on a plain directory of the same file
// system, and reaches the server as the expected FUSE opcode.
import CFuseShim
import Contract
import FuseServer
import Glibc
import ResultModel
import Supervisor
import TestSupport
import XCTest

final class ConformanceTests: XCTestCase {
    nonisolated(unsafe) static var fixture: MountFixture?
    /// Why the fixture could not be made: every test fails with it.
    nonisolated(unsafe) static var fixtureError: Error?
    var fx: MountFixture { Self.fixture! }
    var caseName = ""

    override class func setUp() {
        var o = ServerOptions()
        // No caching: every call must reach the server.
        o.entryTimeout = 0
        o.attrTimeout = 0
        do { fixture = try MountFixture(options: o) } catch { fixtureError = error }
    }

    override class func tearDown() {
        fixture?.tearDown()
        fixture = nil
    }

    override func setUpWithError() throws {
        try Isolation.requireMountSandbox()
        // A server that cannot mount fails every test here, never skips it.
        guard Self.fixture != nil else {
            throw Self.fixtureError ?? SupervisorError.failed("the reference server did not mount")
        }
        caseName = name.components(separatedBy: " ").last!.trimmingCharacters(in: CharacterSet(charactersIn: "]"))
    }

    /// Runs `body` on the mount and on the native twin (each in a fresh
    /// subdirectory), compares transcripts, and checks that each opcode in
    /// `opcodes` reached the server during the mount run.
    func compare(_ opcodes: [String], anyOf: [String] = [], file: StaticString = #filePath, line: UInt = #line,
                 _ body: (Probe) -> Void) {
        let onMount = Probe(root: "\(fx.mountpoint)/\(caseName)")
        let onNative = Probe(root: "\(fx.native)/\(caseName)")
        XCTAssertEqual(mkdir(onMount.root, 0o755), 0, file: file, line: line)
        XCTAssertEqual(mkdir(onNative.root, 0o755), 0, file: file, line: line)
        let before = fx.report()?.opcodes ?? [:]
        body(onMount)
        let after = fx.report()?.opcodes ?? [:]
        body(onNative)
        XCTAssertFalse(onMount.lines.isEmpty, file: file, line: line)
        XCTAssertEqual(onMount.lines, onNative.lines, "mount vs native", file: file, line: line)
        for (i, (a, b)) in zip(onMount.lines, onNative.lines).enumerated() where a != b {
            XCTFail("line \(i): mount '\(a)' vs native '\(b)'", file: file, line: line)
            break
        }
        for op in opcodes {
            if fx.options.passthrough && ["READ", "WRITE"].contains(op) {
                // FUSE passthrough (the default): the kernel reads and
                // writes the backing file itself.
                XCTAssertEqual(after[op]?.count ?? 0, before[op]?.count ?? 0,
                               "\(op) reached the server despite passthrough", file: file, line: line)
                continue
            }
            XCTAssertGreaterThan(after[op]?.count ?? 0, before[op]?.count ?? 0,
                                 "\(op) did not reach the server", file: file, line: line)
        }
        if !anyOf.isEmpty {
            XCTAssertTrue(anyOf.contains { (after[$0]?.count ?? 0) > (before[$0]?.count ?? 0) },
                          "none of \(anyOf) reached the server", file: file, line: line)
        }
    }

    func writeFile(_ p: Probe, _ name: String, _ text: String, mode: mode_t = 0o644) {
        let fd = open(p.path(name), O_WRONLY | O_CREAT | O_TRUNC, mode)
        p.call("create \(name)", fd)
        if fd >= 0 {
            p.size("write \(name)", text.withCString { write(fd, $0, strlen($0)) })
            p.call("close \(name)", close(fd))
        }
    }

    func testLookupGetattrAndErrors() {
        compare(["LOOKUP", "GETATTR", "CREATE"]) { p in
            writeFile(p, "a", "hello")
            p.stat("a")
            p.stat("missing")
            p.call("open missing", open(p.path("missing"), O_RDONLY))
            p.call("create excl existing", open(p.path("a"), O_WRONLY | O_CREAT | O_EXCL, 0o644))
            p.call("open a as dir", open(p.path("a/x"), O_RDONLY))
        }
    }

    func testSetattr() {
        compare(["SETATTR"]) { p in
            writeFile(p, "f", String(repeating: "x", count: 5000))
            p.call("chmod 600", chmod(p.path("f"), 0o600))
            p.stat("f")
            p.call("chown", chown(p.path("f"), 1234, 5678))
            p.stat("f")
            p.call("truncate 100", truncate(p.path("f"), 100))
            p.stat("f")
            let fd = open(p.path("f"), O_RDWR)
            p.call("ftruncate 7", ftruncate(fd, 7))
            p.call("fchmod 640", fchmod(fd, 0o640))
            close(fd)
            p.stat("f")
            p.content("f")
            var times = [timespec(tv_sec: 1_000_000_000, tv_nsec: 123_456_789),
                         timespec(tv_sec: 1_234_567_890, tv_nsec: 987_654_321)]
            p.call("utimensat", utimensat(AT_FDCWD, p.path("f"), &times, 0))
            p.stat("f", times: true)
        }
    }

    /// A caller without CAP_FSETID (the test thread drops it from its own
    /// effective set): a write, a truncate and a truncating open kill suid,
    /// and sgid of a group-executable file of a group the caller is not in,
    /// as on the backing file system. With FUSE_HANDLE_KILLPRIV_V2 the
    /// server does this itself.
    func testUnprivilegedWritesKillSuidAndSgid() {
        compare(["WRITE", "SETATTR", "OPEN"]) { p in
            let modes: [(String, mode_t)] = [("w-suid", 0o4755), ("w-sgid", 0o2775), ("w-sgid-noexec", 0o2765),
                                             ("t-suid", 0o6775), ("o-suid", 0o6775), ("w-plain", 0o755)]
            for (name, mode) in modes {
                writeFile(p, name, "data")
                p.call("chown \(name)", chown(p.path(name), 0, 1234))
                p.call("chmod \(name)", chmod(p.path(name), mode))
            }
            XCTAssertEqual(fbshim_thread_fsetid(0), 0, "dropping CAP_FSETID")
            for name in ["w-suid", "w-sgid", "w-sgid-noexec", "w-plain"] {
                let fd = open(p.path(name), O_WRONLY | O_APPEND)
                p.size("append \(name)", write(fd, "+", 1))
                close(fd)
            }
            p.call("truncate t-suid", truncate(p.path("t-suid"), 2))
            let fd = open(p.path("o-suid"), O_WRONLY | O_TRUNC)
            p.call("open o-suid O_TRUNC", fd)
            close(fd)
            XCTAssertEqual(fbshim_thread_fsetid(1), 0, "restoring CAP_FSETID")
            for (name, _) in modes { p.stat(name) }
        }
    }

    func testSymlinkAndReadlink() {
        compare(["SYMLINK", "READLINK"]) { p in
            p.call("symlink", symlink("some/target", p.path("l")))
            var buf = [CChar](repeating: 0, count: 256)
            let n = p.size("readlink", readlink(p.path("l"), &buf, 255))
            if n >= 0 { p.note("target: \(String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self))") }
            p.stat("l")
            p.call("symlink exists", symlink("x", p.path("l")))
        }
    }

    func testMknod() {
        compare(["MKNOD"]) { p in
            p.call("mkfifo", mkfifo(p.path("fifo"), 0o640))
            p.stat("fifo")
            p.call("mknod regular", mknod(p.path("reg"), S_IFREG | 0o600, 0))
            p.stat("reg")
        }
    }

    func testMkdirRmdirUnlink() {
        compare(["MKDIR", "RMDIR", "UNLINK"]) { p in
            p.call("mkdir d", mkdir(p.path("d"), 0o750))
            p.stat("d")
            p.call("mkdir d again", mkdir(p.path("d"), 0o750))
            writeFile(p, "d/f", "x")
            p.call("rmdir non-empty", rmdir(p.path("d")))
            p.call("unlink dir", unlink(p.path("d")))
            p.call("rmdir file", rmdir(p.path("d/f")))
            p.call("unlink f", unlink(p.path("d/f")))
            p.call("unlink f again", unlink(p.path("d/f")))
            p.call("rmdir d", rmdir(p.path("d")))
            p.stat("d")
        }
    }

    func testRenameWithFlags() {
        compare(["RENAME"]) { p in
            writeFile(p, "a", "aaa")
            writeFile(p, "b", "bbbbbb")
            p.call("rename a c", rename(p.path("a"), p.path("c")))
            p.stat("a")
            p.content("c")
            p.call("noreplace onto b", fbshim_renameat2(AT_FDCWD, p.path("c"), AT_FDCWD, p.path("b"),
                                                         UInt32(fbshim_RENAME_NOREPLACE)))
            p.call("exchange c b", fbshim_renameat2(AT_FDCWD, p.path("c"), AT_FDCWD, p.path("b"),
                                                     UInt32(fbshim_RENAME_EXCHANGE)))
            p.content("b")
            p.content("c")
            p.call("mkdir sub", mkdir(p.path("sub"), 0o755))
            p.call("rename into sub", rename(p.path("b"), p.path("sub/b")))
            p.list("")
            p.list("sub")
            p.call("rename missing", rename(p.path("nope"), p.path("x")))
        }
    }

    func testLink() {
        compare(["LINK"]) { p in
            writeFile(p, "a", "linked")
            p.call("link", link(p.path("a"), p.path("h")))
            p.stat("a")
            p.stat("h")
            p.content("h")
            p.call("link onto existing", link(p.path("a"), p.path("h")))
        }
    }

    func testOpenReadWriteFlushRelease() {
        // No FLUSH: over ext4 opens carry FOPEN_NOFLUSH (ServerOptionsTests).
        compare(["OPEN", "READ", "WRITE", "RELEASE"]) { p in
            let fd = open(p.path("f"), O_RDWR | O_CREAT, 0o644)
            p.call("create", fd)
            let chunk = [UInt8]((0..<7000).map { UInt8(truncatingIfNeeded: $0 &* 13) })
            for off in [0, 5000, 70_000] {
                p.size("pwrite \(off)", pwrite(fd, chunk, chunk.count, off_t(off)))
            }
            p.call("close", close(fd))
            let r = open(p.path("f"), O_RDONLY)
            p.call("open ro", r)
            var buf = [UInt8](repeating: 0, count: 9000)
            let n = p.size("pread", pread(r, &buf, 9000, 4000))
            if n > 0 { p.note("sum \(buf[0..<n].reduce(0) { $0 &+ UInt64($1) })") }
            p.size("write to ro", write(r, buf, 10))
            p.call("close ro", close(r))
            let a = open(p.path("f"), O_WRONLY | O_APPEND)
            p.size("append", write(a, chunk, 100))
            close(a)
            p.stat("f")
            p.content("f")
        }
    }

    func testFsyncAndFsyncdir() {
        compare(["FSYNC", "FSYNCDIR"]) { p in
            let fd = open(p.path("f"), O_RDWR | O_CREAT, 0o644)
            p.size("write", write(fd, "data", 4))
            p.call("fsync", fsync(fd))
            p.call("fdatasync", fdatasync(fd))
            close(fd)
            let d = open(p.root, O_RDONLY | O_DIRECTORY)
            p.call("fsync dir", fsync(d))
            close(d)
        }
    }

    func testReaddirOfLargeDirectory() {
        compare(["OPENDIR", "RELEASEDIR"], anyOf: ["READDIR", "READDIRPLUS"]) { p in
            for i in 0..<300 {
                let fd = open(p.path("file-with-a-long-name-\(String(repeating: "x", count: i % 40))-\(i)"),
                              O_WRONLY | O_CREAT, 0o644)
                close(fd)
            }
            p.call("mkdir sub", mkdir(p.path("sub"), 0o755))
            p.list("")
            p.list("sub")
            p.list("missing")
        }
    }

    func testStatfs() {
        compare(["STATFS"]) { p in
            var s = statvfs()
            p.call("statvfs", statvfs(p.root, &s))
            p.note("bsize=\(s.f_bsize) frsize=\(s.f_frsize) namemax=\(s.f_namemax) blocks=\(s.f_blocks)")
        }
    }

    func testAccess() {
        compare(["ACCESS"]) { p in
            writeFile(p, "plain", "x", mode: 0o644)
            writeFile(p, "exec", "x", mode: 0o755)
            p.call("chmod 0", chmod(p.path("none"), 0))
            for (name, mode) in [("plain", F_OK), ("plain", X_OK), ("exec", X_OK), ("plain", W_OK), ("missing", R_OK)] {
                p.call("access \(name) \(mode)", access(p.path(name), mode))
            }
        }
    }

    func testXattrs() {
        compare(["SETXATTR", "GETXATTR", "LISTXATTR", "REMOVEXATTR"]) { p in
            writeFile(p, "f", "x")
            p.call("set a", fbshim_setxattr(p.path("f"), "user.a", "one", 3, 0))
            p.call("set b", fbshim_setxattr(p.path("f"), "user.b", "two!", 4, 0))
            p.call("create a again", fbshim_setxattr(p.path("f"), "user.a", "1", 1, 1 /* XATTR_CREATE */))
            p.size("size of a", fbshim_getxattr(p.path("f"), "user.a", nil, 0))
            var buf = [CChar](repeating: 0, count: 64)
            let n = p.size("get b", fbshim_getxattr(p.path("f"), "user.b", &buf, 64))
            if n > 0 { p.note("b=\(String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self))") }
            p.size("get b too small", fbshim_getxattr(p.path("f"), "user.b", &buf, 2))
            var list = [CChar](repeating: 0, count: 256)
            let ln = p.size("list", fbshim_listxattr(p.path("f"), &list, 256))
            if ln > 0 {
                let names = String(decoding: list[0..<ln].map { UInt8(bitPattern: $0) }, as: UTF8.self)
                    .split(separator: "\0").filter { $0.hasPrefix("user.") }.sorted()
                p.note("names \(names)")
            }
            p.call("remove a", fbshim_removexattr(p.path("f"), "user.a"))
            p.size("get a", fbshim_getxattr(p.path("f"), "user.a", &buf, 64))
            p.call("remove missing", fbshim_removexattr(p.path("f"), "user.zzz"))
        }
    }

    func testFallocateAndLseek() {
        compare(["FALLOCATE", "LSEEK"]) { p in
            let fd = open(p.path("f"), O_RDWR | O_CREAT, 0o644)
            p.call("fallocate 1MiB", fbshim_fallocate(fd, 0, 0, 1 << 20))
            var st = Glibc.stat()
            fstat(fd, &st)
            p.note("size=\(st.st_size) allocated=\(st.st_blocks >= 2048)")
            p.call("punch hole", fbshim_fallocate(fd, 0x01 | 0x02 /* KEEP_SIZE|PUNCH_HOLE */, 0, 1 << 19))
            let sparse = open(p.path("sparse"), O_RDWR | O_CREAT, 0o644)
            p.size("write at 0", pwrite(sparse, "a", 1, 0))
            p.size("write at 1MiB", pwrite(sparse, "b", 1, 1 << 20))
            p.note("hole at \(lseek(sparse, 0, 4 /* SEEK_HOLE */))")
            p.note("data at \(lseek(sparse, 8192, 3 /* SEEK_DATA */))")
            p.note("data past end \(lseek(sparse, 2 << 20, 3) < 0 ? errnoName(errno) : "found")")
            close(sparse)
            close(fd)
        }
    }

    func testCopyFileRange() {
        compare(["COPY_FILE_RANGE"]) { p in
            writeFile(p, "src", String(repeating: "0123456789", count: 1000))
            let s = open(p.path("src"), O_RDONLY)
            let d = open(p.path("dst"), O_WRONLY | O_CREAT, 0o644)
            var inOff: off_t = 100
            var outOff: off_t = 10
            p.size("copy", fbshim_copy_file_range(s, &inOff, d, &outOff, 5000, 0))
            close(s)
            close(d)
            p.content("dst")
        }
    }

    func testFilesOpenWhileUnlinked() {
        compare(["UNLINK"]) { p in
            let fd = open(p.path("f"), O_RDWR | O_CREAT, 0o644)
            p.size("write", write(fd, "before", 6))
            p.call("unlink", unlink(p.path("f")))
            p.size("write after unlink", write(fd, "after", 5))
            var st = Glibc.stat()
            p.call("fstat", fstat(fd, &st))
            p.note("nlink=\(st.st_nlink) size=\(st.st_size)")
            var buf = [UInt8](repeating: 0, count: 16)
            p.size("pread", pread(fd, &buf, 16, 0))
            close(fd)
            p.stat("f")
        }
    }

    /// Dropping the kernel's dentry and inode caches sends FORGET (or
    /// BATCH_FORGET) for every node, and the server's table shrinks.
    func testForgetShrinksTheNodeTable() throws {
        let dir = "\(fx.mountpoint)/\(caseName)"
        XCTAssertEqual(mkdir(dir, 0o755), 0)
        for i in 0..<200 { close(open("\(dir)/f\(i)", O_WRONLY | O_CREAT, 0o644)) }
        var st = Glibc.stat()
        for i in 0..<200 { XCTAssertEqual(lstat("\(dir)/f\(i)", &st), 0) }
        let before = try XCTUnwrap(fx.report())
        XCTAssertGreaterThanOrEqual(before.nodes, 200)
        let fd = open("/proc/sys/vm/drop_caches", O_WRONLY)
        XCTAssertGreaterThanOrEqual(fd, 0)
        XCTAssertEqual(write(fd, "2", 1), 1)
        close(fd)
        var after = try XCTUnwrap(fx.report())
        let deadline = Date().addingTimeInterval(5)
        while after.nodes > before.nodes - 150 && Date() < deadline {
            usleep(50_000)
            after = try XCTUnwrap(fx.report())
        }
        let forgets = (after.opcodes["FORGET"]?.count ?? 0) + (after.opcodes["BATCH_FORGET"]?.count ?? 0)
        let forgetsBefore = (before.opcodes["FORGET"]?.count ?? 0) + (before.opcodes["BATCH_FORGET"]?.count ?? 0)
        XCTAssertGreaterThan(forgets, forgetsBefore)
        XCTAssertLessThanOrEqual(after.nodes, before.nodes - 150, "nodes \(before.nodes) -> \(after.nodes)")
    }
}
