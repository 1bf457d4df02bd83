// The same system calls, made by several users (root, alice, and bob, who
// shares a group with alice), give the same results on the mount as on a
// plain directory of the same file system: results and errnos, owners,
// modes, sizes, link counts, explicit times. The mount has allow_other and
// default_permissions; each user's calls run on a thread of its own with
// that user's fsuid, fsgid and groups (a non-zero fsuid drops the thread's
// file-system capabilities, as for a real user); FUSE sends the caller's
// credentials, and the server takes them for the backing calls.
import CFuseShim
import Contract
import Foundation
import FuseServer
import Glibc
import ResultModel
import Supervisor
import Synchronization
import TestSupport
import XCTest

/// A user of the suite.
struct User {
    let name: String, uid: UInt32, gid: UInt32, groups: [UInt32]
    static let root = User(name: "root", uid: 0, gid: 0, groups: [0])
    static let alice = User(name: "alice", uid: 60001, gid: 60001, groups: [60001, 60100])
    static let bob = User(name: "bob", uid: 60002, gid: 60002, groups: [60002, 60100])
    static let shared: UInt32 = 60100
}

/// Runs `body` on a thread of its own with `user`'s credentials.
func asUser(_ user: User, _ body: @escaping () -> Void) {
    /// The thread runs `body` while this one waits for it.
    struct Handoff: @unchecked Sendable { let body: () -> Void }
    let handoff = Handoff(body: body)
    let done = DispatchSemaphore(value: 0)
    let t = Thread {
        var groups = user.groups
        precondition(fbshim_thread_credentials(user.uid, user.gid, &groups, Int32(groups.count)) == 0)
        handoff.body()
        done.signal()
    }
    t.start()
    done.wait()
}

/// The suite's script, on one root (the mount or the native twin).
enum MultiUserScript {
    static func run(_ p: Probe) {
        let u = p
        func stat(_ who: User, _ path: String, times: Bool = false) {
            asUser(who) { u.stat(path, times: times) }
        }
        // Root sets the stage.
        asUser(.root) {
            for (d, mode, gid) in [("shared", 0o777, 0), ("sticky", 0o1777, 0), ("sgid", 0o2775, Int(User.shared)),
                                   ("private", 0o700, 0), ("groupdir", 0o770, Int(User.shared))] as [(String, mode_t, Int)] {
                p.call("root mkdir \(d)", mkdir(p.path(d), 0o755))
                p.call("root chown \(d)", chown(p.path(d), 0, gid_t(gid)))
                p.call("root chmod \(d)", chmod(p.path(d), mode))
            }
            for (f, mode) in [("shared/rootfile", 0o644), ("shared/secret", 0o600), ("shared/rootw", 0o666)] as [(String, mode_t)] {
                let fd = open(p.path(f), O_WRONLY | O_CREAT | O_EXCL, 0o600)
                p.call("root create \(f)", fd)
                if fd >= 0 { _ = write(fd, "root data\n", 10); close(fd) }
                p.call("root chmod \(f)", chmod(p.path(f), mode))
            }
        }
        for who in [User.alice, User.bob] {
            let n = who.name
            asUser(who) {
                // Creation: owned by the caller, group by the directory's rules.
                let fd = open(p.path("shared/\(n)-file"), O_RDWR | O_CREAT | O_EXCL, 0o644)
                p.call("\(n) create shared/\(n)-file", fd)
                if fd >= 0 {
                    p.size("\(n) write", write(fd, "hello world\n", 12))
                    p.call("\(n) ftruncate 5", ftruncate(fd, 5))
                    p.call("\(n) fchmod 600", fchmod(fd, 0o600))
                    close(fd)
                }
                p.call("\(n) mkdir shared/\(n)-dir", mkdir(p.path("shared/\(n)-dir"), 0o755))
                p.call("\(n) mkdir sgid/\(n)-dir", mkdir(p.path("sgid/\(n)-dir"), 0o755))
                let g = open(p.path("sgid/\(n)-file"), O_WRONLY | O_CREAT | O_EXCL, 0o664)
                p.call("\(n) create sgid/\(n)-file", g)
                if g >= 0 { close(g) }
                p.call("\(n) mkfifo", mkfifo(p.path("shared/\(n)-fifo"), 0o640))
                p.call("\(n) mknod fifo", mknod(p.path("shared/\(n)-node"), S_IFIFO | 0o600, 0))
                p.call("\(n) mknod chardev", mknod(p.path("shared/\(n)-dev"), S_IFCHR | 0o600, dev_t(1 << 8 | 3)))
                p.call("\(n) symlink", symlink("\(n)-file", p.path("shared/\(n)-link")))
                p.call("\(n) link own", link(p.path("shared/\(n)-file"), p.path("shared/\(n)-hard")))
                p.call("\(n) link root's secret", link(p.path("shared/secret"), p.path("shared/\(n)-secret")))
                for d in ["private", "groupdir"] {
                    let fd = open(p.path("\(d)/\(n)"), O_WRONLY | O_CREAT, 0o644)
                    p.call("\(n) create in \(d)", fd)
                    if fd >= 0 { close(fd) }
                }
                // Opens with every access mode.
                for (f, what) in [("shared/rootfile", "root's 0644"), ("shared/secret", "root's 0600"),
                                  ("shared/rootw", "root's 0666"), ("shared/\(n)-file", "own 0600")] {
                    for (mode, m) in [(O_RDONLY, "r"), (O_WRONLY, "w"), (O_RDWR, "rw")] {
                        let fd = open(p.path(f), mode)
                        p.call("\(n) open \(what) \(m)", fd)
                        if fd >= 0 { close(fd) }
                    }
                }
                for (f, mode, m) in [("shared/secret", R_OK, "r"), ("shared/rootfile", W_OK, "w"),
                                     ("shared/rootw", W_OK, "w"), ("private", X_OK, "x"), ("groupdir", W_OK, "w")] {
                    // AT_EACCESS: as the thread's file-system ids (the user's).
                    p.call("\(n) access \(f) \(m)", faccessat(AT_FDCWD, p.path(f), mode, AT_EACCESS))
                }
                p.call("\(n) truncate own", truncate(p.path("shared/\(n)-file"), 3))
                p.call("\(n) truncate root's 0644", truncate(p.path("shared/rootfile"), 1))
                p.call("\(n) truncate root's 0666", truncate(p.path("shared/rootw"), 4))
                p.call("\(n) chmod own 640", chmod(p.path("shared/\(n)-file"), 0o640))
                p.call("\(n) chmod root's", chmod(p.path("shared/rootfile"), 0o666))
                p.call("\(n) chgrp own to shared group", chown(p.path("shared/\(n)-file"), gid_t.max, gid_t(User.shared)))
                p.call("\(n) chgrp own to root", chown(p.path("shared/\(n)-dir"), gid_t.max, 0))
                p.call("\(n) chown own to root", chown(p.path("shared/\(n)-dir"), 0, gid_t.max))
                p.call("\(n) chmod own dir g+s", chmod(p.path("shared/\(n)-dir"), 0o2755))
                var t = [timespec(tv_sec: 1_000_000_000, tv_nsec: 5), timespec(tv_sec: 1_100_000_000, tv_nsec: 7)]
                p.call("\(n) utimensat own", utimensat(AT_FDCWD, p.path("shared/\(n)-file"), &t, 0))
                p.call("\(n) utimensat root's 0666 explicit", utimensat(AT_FDCWD, p.path("shared/rootw"), &t, 0))
                var now = [timespec(tv_sec: 0, tv_nsec: Int(fbshim_UTIME_NOW)), timespec(tv_sec: 0, tv_nsec: Int(fbshim_UTIME_NOW))]
                p.call("\(n) utimensat root's 0666 now", utimensat(AT_FDCWD, p.path("shared/rootw"), &now, 0))
                p.call("\(n) utimensat root's 0644 now", utimensat(AT_FDCWD, p.path("shared/rootfile"), &now, 0))
                // Sticky and plain shared directories.
                let s = open(p.path("sticky/\(n)"), O_WRONLY | O_CREAT | O_EXCL, 0o666)
                p.call("\(n) create sticky/\(n)", s)
                if s >= 0 { close(s) }
                p.call("\(n) mkdir sticky/\(n)-d", mkdir(p.path("sticky/\(n)-d"), 0o777))
            }
            stat(who, "shared/\(n)-file", times: true)
            for f in ["shared/\(n)-dir", "sgid/\(n)-dir", "sgid/\(n)-file", "shared/\(n)-fifo", "shared/\(n)-node",
                      "shared/\(n)-link", "shared/\(n)-hard", "shared/rootfile", "shared/rootw", "sticky/\(n)",
                      "groupdir/\(n)"] {
                stat(.root, f)
            }
        }
        // Bob against alice's objects.
        asUser(.bob) {
            p.call("bob unlink alice's in sticky", unlink(p.path("sticky/alice")))
            p.call("bob rename alice's in sticky", rename(p.path("sticky/alice"), p.path("sticky/bob-took")))
            p.call("bob rmdir alice's in sticky", rmdir(p.path("sticky/alice-d")))
            p.call("bob rename own in sticky", rename(p.path("sticky/bob"), p.path("sticky/bob2")))
            p.call("bob rename over alice's in sticky", rename(p.path("sticky/bob2"), p.path("sticky/alice")))
            p.call("bob unlink alice's in shared", unlink(p.path("shared/alice-hard")))
            p.call("bob chmod alice's", chmod(p.path("shared/alice-file"), 0o777))
            let fd = open(p.path("shared/alice-file"), O_RDONLY)
            p.call("bob open alice's 0640 r (shared group)", fd)
            if fd >= 0 { close(fd) }
            p.call("bob truncate alice's", truncate(p.path("shared/alice-file"), 0))
            p.call("bob link alice's file", link(p.path("shared/alice-file"), p.path("shared/bob-has-alice")))
            p.call("bob mv own dir into alice's dir", rename(p.path("shared/bob-dir"), p.path("shared/alice-dir/bob-dir")))
            p.call("bob mv own dir into sgid", rename(p.path("shared/bob-dir"), p.path("sgid/bob-dir/moved")))
            p.call("bob rmdir own", rmdir(p.path("sgid/bob-dir/moved")))
        }
        asUser(.alice) {
            p.call("alice mv own dir between parents", rename(p.path("shared/alice-dir"), p.path("sticky/alice-d/moved")))
            p.call("alice rename own file", rename(p.path("shared/alice-file"), p.path("shared/alice-renamed")))
            p.call("alice unlink own link", unlink(p.path("shared/alice-link")))
            p.call("alice rmdir own", rmdir(p.path("sgid/alice-dir")))
            p.call("alice rmdir root's", rmdir(p.path("private")))
        }
        for f in ["sticky/alice", "sticky/bob-took", "shared/alice-renamed", "shared/bob-has-alice", "sgid/bob-dir",
                  "sticky/alice-d/moved", "shared/alice-file"] {
            stat(.root, f)
        }
        asUser(.root) {
            p.call("root chown alice's to bob", chown(p.path("shared/alice-renamed"), 60002, 60002))
            p.list("shared")
            p.list("sticky")
            p.list("sgid")
        }
        stat(.root, "shared/alice-renamed")
    }
}

/// Calls and failures counted by several threads.
final class CallTally: @unchecked Sendable {
    private let lock = NSLock()
    private var calls = 0
    private var failures: [String: Int] = [:]
    func add(_ n: Int) { lock.withLock { calls += n } }
    func fail(_ what: String) { lock.withLock { failures[what, default: 0] += 1 } }
    var totals: (Int, [String: Int]) { lock.withLock { (calls, failures) } }
}

final class MultiUserConformanceTests: XCTestCase {
    var scratch: ScratchSpace!

    override func setUpWithError() throws {
        try Isolation.requireMountSandbox()
    }

    /// Makes the path to `dir` traversable by every user.
    func openUp(_ dir: String) {
        var p = dir
        while p != "/" && !p.isEmpty {
            var st = Glibc.stat()
            if lstat(p, &st) == 0 { chmod(p, (st.st_mode & 0o7777) | 0o755) }
            p = (p as NSString).deletingLastPathComponent
        }
    }

    /// A mount with allow_other and no caching (every call reaches the
    /// server), the options `configure` sets, its directories open to every
    /// user. A fixture that cannot mount fails the test (never a skip).
    func fixture(_ configure: (inout ServerOptions) -> Void) throws -> MountFixture {
        var o = ServerOptions()
        o.entryTimeout = 0
        o.attrTimeout = 0
        o.allowOther = true
        configure(&o)
        let fx = try MountFixture(options: o)
        for d in [fx.mountpoint, fx.backing, fx.native] { openUp(d) }
        return fx
    }

    /// Runs the script on `mountRoot` and `nativeRoot`; returns the lines that differ.
    func differences(mount mountRoot: String, native nativeRoot: String) -> [String] {
        let onMount = Probe(root: mountRoot), onNative = Probe(root: nativeRoot)
        MultiUserScript.run(onMount)
        MultiUserScript.run(onNative)
        var diffs: [String] = []
        if onMount.lines.count != onNative.lines.count {
            diffs.append("transcripts differ in length: \(onMount.lines.count) vs \(onNative.lines.count)")
        }
        for (a, b) in zip(onMount.lines, onNative.lines) where a != b { diffs.append("mount '\(a)' vs native '\(b)'") }
        XCTAssertGreaterThan(onMount.lines.count, 150, "the script ran")
        return diffs
    }

    func testEveryUserSeesTheBackingFileSystemThroughTheReferenceServer() throws {
        let fx = try fixture { $0.defaultPermissions = true }
        defer { fx.tearDown() }
        XCTAssertTrue(try String(contentsOfFile: "/proc/self/mounts", encoding: .utf8)
                        .contains("default_permissions,allow_other"), "mounted with the options")
        let diffs = differences(mount: fx.mountpoint, native: fx.native)
        XCTAssertEqual(diffs.count, 0, "differences from the backing file system:\n" + diffs.joined(separator: "\n"))
        print("multi-user conformance, reference server: \(diffs.count) differences")
    }

    /// libfuse starts a worker thread from a worker that has read a request
    /// and found no idle worker: the new thread inherits its parent's
    /// credentials, which are those of the parent's last caller (a thread
    /// keeps them between requests). Root's requests on such a thread must
    /// still run as the server: opening a directory by its file handle needs
    /// CAP_DAC_READ_SEARCH, which alice's fsuid took away (EPERM). Each round
    /// is a fresh mount, whose workers are started under this load.
    func testRootsRequestsRunAsTheServerOnWorkersStartedUnderAnotherUser() throws {
        let root = CallTally()
        for _ in 0..<20 {
            let fx = try fixture { $0.threads = 8 }
            defer { fx.tearDown() }
            for i in 0..<4 {
                XCTAssertEqual(mkdir("\(fx.backing)/d\(i)", 0o755), 0)
                XCTAssertTrue(FileManager.default.createFile(atPath: "\(fx.backing)/d\(i)/f", contents: Data("x".utf8)))
            }
            let mountpoint = fx.mountpoint
            let stop = Atomic<Bool>(false)
            let finished = DispatchGroup()
            let threads = (0..<4).map { n in
                let user = n == 0 ? User.root : User.alice
                finished.enter()
                return Thread {
                    defer { finished.leave() }
                    var groups = user.groups
                    precondition(fbshim_thread_credentials(user.uid, user.gid, &groups, Int32(groups.count)) == 0)
                    var calls = 0
                    while !stop.load(ordering: .relaxed) || calls < 50 {
                        let dir = "\(mountpoint)/d\(calls % 4)"
                        if user.uid != 0 {
                            var st = Glibc.stat()
                            _ = lstat(dir + "/f", &st)
                        } else if let d = opendir(dir) {
                            closedir(d)
                        } else {
                            root.fail(errnoName(errno))
                        }
                        calls += 1
                    }
                    if user.uid == 0 { root.add(calls) }
                }
            }
            threads.forEach { $0.start() }
            usleep(150_000)
            stop.store(true, ordering: .relaxed)
            finished.wait()
        }
        let (calls, failures) = root.totals
        XCTAssertGreaterThan(calls, 500, "root listed directories")
        XCTAssertEqual(failures, [:], "root's opendir failed on the mount (\(calls) calls)")
    }

    /// Without default_permissions the kernel checks nothing: the server's
    /// backing calls, made as the caller, must refuse what the backing file
    /// system refuses.
    func testTheServerEnforcesPermissionsItselfWithoutDefaultPermissions() throws {
        let fx = try fixture { _ in }
        defer { fx.tearDown() }
        let before = fx.count("ACCESS")
        let diffs = differences(mount: fx.mountpoint, native: fx.native)
        XCTAssertEqual(diffs.count, 0, "differences from the backing file system:\n" + diffs.joined(separator: "\n"))
        XCTAssertGreaterThan(fx.count("ACCESS"), before, "access(2) reached the server")
        print("multi-user conformance, reference server without default_permissions: \(diffs.count) differences")
    }

    /// Without default_permissions the server's open, as the caller, is
    /// the permission check: a user's open of a file whose backing id is
    /// idle is not answered from it, and is refused as the backing file
    /// system refuses it.
    func testAnIdleBackingFileDoesNotBypassTheCallersPermissions() throws {
        var o = ServerOptions()
        o.allowOther = true
        let fx = try MountFixture(options: o)
        defer { fx.tearDown() }
        for d in [fx.mountpoint, fx.backing] { openUp(d) }
        for (name, mode) in [("secret", 0o600), ("public", 0o644)] as [(String, mode_t)] {
            let fd = open("\(fx.mountpoint)/\(name)", O_WRONLY | O_CREAT, mode)
            XCTAssertGreaterThanOrEqual(fd, 0)
            close(fd)
            let again = open("\(fx.mountpoint)/\(name)", O_RDONLY)
            XCTAssertGreaterThanOrEqual(again, 0)
            close(again)
        }
        // close(2) does not wait for its RELEASE.
        let deadline = fbshim_monotonic_ns() + 5_000_000_000
        while fx.report()?.backingFilesIdle != 2 && fbshim_monotonic_ns() < deadline { usleep(1_000) }
        XCTAssertEqual(fx.report()?.backingFilesIdle, 2)
        var results: [String: Int32] = [:]
        asUser(.alice) {
            for (name, flags) in [("secret", O_RDONLY), ("public", O_WRONLY), ("public", O_RDONLY)] {
                let fd = open("\(fx.mountpoint)/\(name)", flags)
                results["\(name) \(flags)"] = fd >= 0 ? 0 : errno
                if fd >= 0 { close(fd) }
            }
        }
        XCTAssertEqual(results["secret \(O_RDONLY)"], EACCES)
        XCTAssertEqual(results["public \(O_WRONLY)"], EACCES)
        XCTAssertEqual(results["public \(O_RDONLY)"], 0)
    }

    /// The suite can fail: with the caller's credentials off, the server
    /// creates as root, as libfuse's examples do, and differs.
    func testWithoutCallerCredentialsTheServerDiffers() throws {
        let fx = try fixture { $0.defaultPermissions = true; $0.callerCredentials = false }
        defer { fx.tearDown() }
        let diffs = differences(mount: fx.mountpoint, native: fx.native)
        print("multi-user conformance, reference server without caller credentials: \(diffs.count) differences")
        XCTAssertGreaterThan(diffs.count, 10)
        XCTAssertTrue(diffs.contains { $0.contains("alice chmod own 640 -> EPERM") }, diffs.joined(separator: "\n"))
    }

    /// The same suite against libfuse's passthrough_ll (built by `make test`
    /// into .build/peers) with allow_other,default_permissions: it creates
    /// everything as root, so it differs from the backing file system.
    func testPassthroughLLDiffersWhereItCreatesAsRoot() throws {
        let peer = Binary.packageRoot + "/.build/peers/passthrough_ll"
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: peer), "make test builds \(peer)")
        let dir = try TempDir("multiuser-ll")
        defer { dir.remove() }
        let src = dir.file("src"), mnt = dir.file("mnt"), native = dir.file("native")
        for d in [src, mnt, native] { try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true) }
        openUp(src); openUp(mnt); openUp(native)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: peer)
        p.arguments = ["-f", "-o", "source=\(src),timeout=0,cache=never,allow_other,default_permissions", mnt]
        p.standardError = FileHandle.nullDevice
        try p.run()
        defer {
            umount2(mnt, 0)
            p.waitUntilExit()
        }
        var mounted = false
        for _ in 0..<100 where !mounted {
            mounted = Isolation.fuseMounts().contains { $0.0 == mnt }
            if !mounted { usleep(50_000) }
        }
        XCTAssertTrue(mounted, "passthrough_ll mounted \(mnt)")
        guard mounted else { return }
        let diffs = differences(mount: mnt, native: native)
        print("multi-user conformance, passthrough_ll: \(diffs.count) differences")
        for d in diffs.prefix(8) { print("  \(d)") }
        XCTAssertGreaterThan(diffs.count, 0, "passthrough_ll creates as root")
        XCTAssertTrue(diffs.contains { $0.contains("uid=6000") }, "owners differ")
    }
}
