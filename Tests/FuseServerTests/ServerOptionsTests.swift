// Server options take effect on a real mount, and data still round-trips.
import CFuseShim
import Foundation
import Contract
import FuseServer
import Glibc
import TestSupport
import XCTest

final class ServerOptionsTests: XCTestCase {
    /// Writes 1 MiB through the mount and reads it back through the backing directory and the mount.
    func roundTrip(_ fx: MountFixture, file: StaticString = #filePath, line: UInt = #line) {
        let data = [UInt8]((0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31 ^ $0 >> 9) })
        let fd = open("\(fx.mountpoint)/big", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        XCTAssertGreaterThanOrEqual(fd, 0, file: file, line: line)
        XCTAssertEqual(write(fd, data, data.count), data.count, file: file, line: line)
        XCTAssertEqual(close(fd), 0, file: file, line: line)
        XCTAssertEqual(FileManager.default.contents(atPath: "\(fx.backing)/big").map([UInt8].init), data,
                       "backing content", file: file, line: line)
        XCTAssertEqual(FileManager.default.contents(atPath: "\(fx.mountpoint)/big").map([UInt8].init), data,
                       "content read through the mount", file: file, line: line)
    }

    /// /dev/fuse descriptors the server process holds.
    func fuseDescriptors(_ pid: pid_t) -> Int {
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
        return fds.filter { (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\($0)")) == "/dev/fuse" }.count
    }

    func testMaxWriteLimitsWriteRequests() throws {
        var o = ServerOptions()
        o.maxWrite = 32 * 1024
        o.passthrough = false // WRITEs reach the server
        let fx = try MountFixture(options: o)
        defer { fx.tearDown() }
        roundTrip(fx)
        XCTAssertGreaterThanOrEqual(fx.count("WRITE"), 32, "1 MiB in writes of at most 32 KiB")
    }

    /// The kernel asks for security.capability before a write unless the
    /// inode is marked S_NOSEC, which needs FUSE_HANDLE_KILLPRIV_V2 (on by
    /// default): then it asks about once per inode. Without it, it asks
    /// before every write(2); with xattrs off, one ENOSYS answer stops it
    /// (passthrough_ll's default).
    func testGetxattrBeforeWritesDependsOnKillprivV2AndXattrs() throws {
        func writesAndGetxattrs(xattr: Bool, killPrivV2: Bool) throws -> (UInt64, UInt64, Int32) {
            var o = ServerOptions()
            o.passthrough = false // WRITEs reach the server
            o.maxWrite = 32 * 1024
            o.xattr = xattr
            o.killPrivV2 = killPrivV2
            let fx = try MountFixture(options: o)
            defer { fx.tearDown() }
            // 32 write(2) calls: the kernel checks privileges once per call.
            let fd = open("\(fx.mountpoint)/big", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            XCTAssertGreaterThanOrEqual(fd, 0)
            let block = [UInt8](repeating: 7, count: 32 * 1024)
            for _ in 0..<32 { XCTAssertEqual(write(fd, block, block.count), block.count) }
            XCTAssertEqual(close(fd), 0)
            var buf = [UInt8](repeating: 0, count: 64)
            let n = fbshim_getxattr("\(fx.mountpoint)/big", "user.x", &buf, buf.count)
            return (fx.count("WRITE"), fx.count("GETXATTR"), n < 0 ? errno : 0)
        }
        let v2 = try writesAndGetxattrs(xattr: true, killPrivV2: true)
        XCTAssertGreaterThanOrEqual(v2.0, 32)
        XCTAssertLessThanOrEqual(v2.1, 4, "with KILLPRIV_V2 the inode is marked S_NOSEC after its first check")
        XCTAssertEqual(v2.2, ENODATA, "xattrs still work")
        let v1 = try writesAndGetxattrs(xattr: true, killPrivV2: false)
        XCTAssertGreaterThanOrEqual(v1.0, 32)
        XCTAssertGreaterThanOrEqual(v1.1, 32, "one GETXATTR per write(2) without KILLPRIV_V2")
        XCTAssertEqual(v1.2, ENODATA)
        let off = try writesAndGetxattrs(xattr: false, killPrivV2: false)
        XCTAssertGreaterThanOrEqual(off.0, 32)
        XCTAssertLessThanOrEqual(off.1, 1, "after ENOSYS the kernel sends no more GETXATTR")
        XCTAssertEqual(off.2, EOPNOTSUPP, "xattr calls fail as unsupported")
    }

    /// A caller without CAP_FSETID loses suid on write with KILLPRIV_V2 on
    /// (the server kills it) and off (the kernel sends a SETATTR of the
    /// mode). The test thread drops CAP_FSETID from its own effective set.
    /// ConformanceTests covers truncation and truncating opens as well.
    func testUnprivilegedWriteKillsSuidWithAndWithoutKillprivV2() throws {
        for killPrivV2 in [true, false] {
            var o = ServerOptions()
            o.passthrough = false // the server's write path
            o.killPrivV2 = killPrivV2
            let fx = try MountFixture(options: o)
            defer { fx.tearDown() }
            let path = "\(fx.mountpoint)/suid"
            XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data("x".utf8)))
            XCTAssertEqual(chmod(path, 0o4755), 0)
            XCTAssertEqual(fbshim_thread_fsetid(0), 0, "dropping CAP_FSETID")
            let fd = open(path, O_WRONLY | O_APPEND)
            let written = write(fd, "y", 1)
            close(fd)
            XCTAssertEqual(fbshim_thread_fsetid(1), 0, "restoring CAP_FSETID")
            XCTAssertEqual(written, 1)
            var st = stat()
            XCTAssertEqual(stat(path, &st), 0)
            XCTAssertEqual(st.st_mode & 0o7777, 0o755, "suid killed (killPrivV2 \(killPrivV2))")
            XCTAssertEqual(try String(contentsOfFile: "\(fx.backing)/suid", encoding: .utf8), "xy")
        }
    }

    /// Over ext4 (the test's backing directory), opens carry FOPEN_NOFLUSH
    /// by default and close(2) sends no FLUSH; with skipFlush off every
    /// close(2) does. Data written before the close is there either way.
    func testSkipFlushSparesCloseItsFlushOverExt4() throws {
        func flushes(skipFlush: Bool) throws -> (flush: UInt64, release: UInt64) {
            var o = ServerOptions()
            o.skipFlush = skipFlush
            let fx = try MountFixture(options: o)
            defer { fx.tearDown() }
            let root = open(fx.backing, O_RDONLY | O_DIRECTORY)
            XCTAssertEqual(fbshim_fs_type(root), 0xEF53, "the test needs an ext4 backing directory")
            close(root)
            for i in 0..<20 {
                let fd = open("\(fx.mountpoint)/f\(i)", O_RDWR | O_CREAT | O_TRUNC, 0o644)
                XCTAssertGreaterThanOrEqual(fd, 0)
                let text = "data \(i)"
                XCTAssertEqual(write(fd, text, text.utf8.count), text.utf8.count)
                XCTAssertEqual(close(fd), 0)
                XCTAssertEqual(try String(contentsOfFile: "\(fx.backing)/f\(i)", encoding: .utf8), "data \(i)")
            }
            // RELEASE is asynchronous: wait until all 20 arrived.
            for _ in 0..<200 where fx.count("RELEASE") < 20 { usleep(10_000) }
            return (fx.count("FLUSH"), fx.count("RELEASE"))
        }
        let skipped = try flushes(skipFlush: true)
        XCTAssertEqual(skipped.flush, 0, "FOPEN_NOFLUSH: no close(2) sent FLUSH")
        XCTAssertGreaterThanOrEqual(skipped.release, 20)
        let kept = try flushes(skipFlush: false)
        XCTAssertGreaterThanOrEqual(kept.flush, 20, "every close(2) sends FLUSH")
    }

    /// READDIRPLUS with an entry timeout; plain READDIR without one (its
    /// entries would be stale at once) or when switched off.
    func testReaddirplusOnlyWhenEntriesCanBeCached() throws {
        func listing(entryTimeout: Double, readdirplus: Bool) throws -> (plus: UInt64, plain: UInt64) {
            var o = ServerOptions()
            o.entryTimeout = entryTimeout
            o.readdirplus = readdirplus
            let fx = try MountFixture(options: o)
            defer { fx.tearDown() }
            for i in 0..<50 { XCTAssertTrue(FileManager.default.createFile(atPath: "\(fx.backing)/f\(i)", contents: nil)) }
            let names = try FileManager.default.contentsOfDirectory(atPath: fx.mountpoint)
            XCTAssertEqual(names.count, 50)
            return (fx.count("READDIRPLUS"), fx.count("READDIR"))
        }
        let cached = try listing(entryTimeout: 1, readdirplus: true)
        XCTAssertGreaterThan(cached.plus, 0, "entries can be cached: READDIRPLUS")
        let uncached = try listing(entryTimeout: 0, readdirplus: true)
        XCTAssertEqual(uncached.plus, 0, "entry timeout 0: no READDIRPLUS")
        XCTAssertGreaterThan(uncached.plain, 0)
        let off = try listing(entryTimeout: 1, readdirplus: false)
        XCTAssertEqual(off.plus, 0)
        XCTAssertGreaterThan(off.plain, 0)
    }

    /// Large READ replies are spliced by default and data still round-trips
    /// in both settings; the server's spliced replies show in /proc as two
    /// more pipe descriptors (libfuse's per-thread pipe), which a server
    /// without splice never opens.
    func testSpliceIsUsedForLargeReadsAndRoundTrips() throws {
        func pipes(splice: Bool) throws -> Int {
            var o = ServerOptions()
            o.passthrough = false // READs reach the server
            o.splice = splice
            let fx = try MountFixture(options: o)
            defer { fx.tearDown() }
            roundTrip(fx)
            let pid = fx.mount!.server.pid
            let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
            return fds.filter {
                ((try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\($0)")) ?? "").hasPrefix("pipe:")
            }.count
        }
        // The harness's lifeline pipe is there either way.
        let without = try pipes(splice: false)
        XCTAssertGreaterThanOrEqual(try pipes(splice: true), without + 2, "a pipe pair for splicing READ replies")
    }

    func testDefaultMaxWriteUsesLargerRequests() throws {
        var o = ServerOptions()
        o.passthrough = false // WRITEs reach the server
        let fx = try MountFixture(options: o)
        defer { fx.tearDown() }
        roundTrip(fx)
        XCTAssertLessThanOrEqual(fx.count("WRITE"), 16, "1 MiB in writes of up to 128 KiB")
        XCTAssertGreaterThanOrEqual(fx.count("WRITE"), 8)
    }

    /// FUSE passthrough (the default on this kernel): data round-trips and
    /// no READ or WRITE reaches the server; every open is a passthrough
    /// open, and one backing file is registered per file, reused by every
    /// later open of it (at once, or after its last release).
    /// The INIT reply carries what libfuse 3.14 cannot set. With write-back
    /// caching, which the kernel does not combine with passthrough, the
    /// server does not ask for it and writes come back.
    func testPassthroughKeepsReadsAndWritesAwayFromTheServer() throws {
        let fx = try MountFixture()
        defer { fx.tearDown() }
        roundTrip(fx)
        // Two descriptors on one file at once share one backing file.
        let a = open("\(fx.mountpoint)/big", O_RDONLY), b = open("\(fx.mountpoint)/big", O_RDWR)
        XCTAssertGreaterThanOrEqual(a, 0)
        XCTAssertGreaterThanOrEqual(b, 0)
        var buf = [UInt8](repeating: 0, count: 4096)
        XCTAssertEqual(pread(a, &buf, buf.count, 0), buf.count)
        XCTAssertEqual(pwrite(b, buf, 16, 0), 16)
        close(a)
        close(b)
        let r = try XCTUnwrap(fx.report())
        XCTAssertEqual(Set(r.initFlagsAdded ?? []), ["PASSTHROUGH", "PARALLEL_DIROPS", "HANDLE_KILLPRIV_V2"])
        XCTAssertEqual(fx.count("READ"), 0)
        XCTAssertEqual(fx.count("WRITE"), 0)
        XCTAssertEqual(r.passthroughOpens, fx.count("OPEN") + fx.count("CREATE"))
        XCTAssertGreaterThanOrEqual(r.passthroughOpens ?? 0, 3)
        XCTAssertEqual(r.backingFilesRegistered, 1, "one file, one backing file")
        XCTAssertEqual(r.passthroughReused, (r.passthroughOpens ?? 0) - 1, "every open after the create reused it")
        XCTAssertEqual(r.passthroughRefused, 0)

        var o = ServerOptions()
        o.writebackCache = true
        let wb = try MountFixture(options: o)
        defer { wb.tearDown() }
        roundTrip(wb)
        XCTAssertFalse(wb.report()?.initFlagsAdded?.contains("PASSTHROUGH") ?? true)
        XCTAssertGreaterThan(wb.count("WRITE"), 0)
        XCTAssertEqual(wb.report()?.passthroughOpens, 0)
    }

    /// A file opened again after its last close is answered with the
    /// backing id it kept (no backing open, no ioctl); what needs the
    /// server's own descriptor (FSYNC, FALLOCATE, LSEEK) opens one on first
    /// use; O_TRUNC still truncates; and the kernel's FORGET of the node,
    /// after an unlink through the mount, closes the idle backing file.
    func testAReopenedFileReusesItsIdleBackingFile() throws {
        let fx = try MountFixture()
        defer { fx.tearDown() }
        roundTrip(fx)
        let path = "\(fx.mountpoint)/big"
        var buf = [UInt8](repeating: 0, count: 65536)
        for _ in 0..<20 {
            let fd = open(path, O_RDONLY)
            XCTAssertGreaterThanOrEqual(fd, 0)
            XCTAssertEqual(read(fd, &buf, buf.count), buf.count)
            close(fd)
        }
        awaitReleases(fx)
        var r = try XCTUnwrap(fx.report())
        XCTAssertEqual(r.backingFilesRegistered, 1)
        XCTAssertGreaterThanOrEqual(r.passthroughReused ?? 0, 20)
        XCTAssertEqual(r.backingFilesIdle, 1, "the file's backing id stays registered after its last close")

        // A reused open with no descriptor of the server's yet.
        let fd = open(path, O_RDWR)
        XCTAssertGreaterThanOrEqual(fd, 0)
        XCTAssertEqual(pwrite(fd, buf, 4096, 0), 4096)
        XCTAssertEqual(fsync(fd), 0)
        XCTAssertEqual(fdatasync(fd), 0)
        XCTAssertEqual(posix_fallocate(fd, 0, 2 << 20), 0)
        XCTAssertEqual(lseek(fd, 0, 3 /* SEEK_DATA */), 0)
        close(fd)
        XCTAssertGreaterThanOrEqual(fx.count("FSYNC"), 2)
        XCTAssertGreaterThanOrEqual(fx.count("FALLOCATE"), 1)
        var st = stat()
        XCTAssertEqual(stat("\(fx.backing)/big", &st), 0)
        XCTAssertEqual(st.st_size, 2 << 20, "fallocate reached the backing file")
        r = try XCTUnwrap(fx.report())
        XCTAssertEqual(r.reopenedHandles, 0, "a deferred descriptor is not an earlier instance's handle")

        // O_TRUNC is the server's to do.
        let t = open(path, O_WRONLY | O_TRUNC)
        XCTAssertGreaterThanOrEqual(t, 0)
        close(t)
        XCTAssertEqual(stat("\(fx.backing)/big", &st), 0)
        XCTAssertEqual(st.st_size, 0, "truncated on open")

        XCTAssertEqual(unlink(path), 0)
        let deadline = fbshim_monotonic_ns() + 5_000_000_000
        while fx.report()?.backingFilesIdle != 0 && fbshim_monotonic_ns() < deadline { usleep(10_000) }
        XCTAssertEqual(fx.report()?.backingFilesIdle, 0, "FORGET closed the idle backing file")
        XCTAssertEqual(fx.report()?.backingFilesRegistered, 1)
    }

    /// A file unlinked while open: its close sends RELEASE, and the inode's
    /// eviction then FORGET (the RELEASE holds the inode until its reply:
    /// fs/fuse/file.c, "Hold inode until release is finished", so the
    /// release has left the id idle before the FORGET can come, 120 runs
    /// of this loop never saw otherwise). The FORGET closes the idle id:
    /// none is left for a node the kernel no longer knows, where it would
    /// hold the deleted file until the unmount.
    func testAFileUnlinkedWhileOpenLeavesNoIdleBackingFile() throws {
        let fx = try MountFixture()
        defer { fx.tearDown() }
        for i in 0..<20 {
            let path = "\(fx.mountpoint)/doomed\(i)"
            let fd = open(path, O_RDWR | O_CREAT, 0o644)
            XCTAssertGreaterThanOrEqual(fd, 0)
            XCTAssertEqual(write(fd, "x", 1), 1)
            XCTAssertEqual(unlink(path), 0)
            close(fd)
        }
        let deadline = fbshim_monotonic_ns() + 5_000_000_000
        while fx.report()?.backingFilesIdle != 0 && fbshim_monotonic_ns() < deadline { usleep(10_000) }
        XCTAssertEqual(fx.report()?.backingFilesIdle, 0, "no idle backing file for a forgotten node")
        XCTAssertEqual(fx.report()?.backingFilesRegistered, 20)
    }

    /// Waits until the server has answered as many RELEASEs as the mount
    /// had OPENs and CREATEs (close(2) does not wait for its RELEASE).
    func awaitReleases(_ fx: MountFixture) {
        let deadline = fbshim_monotonic_ns() + 5_000_000_000
        while fx.count("RELEASE") < fx.count("OPEN") + fx.count("CREATE") && fbshim_monotonic_ns() < deadline {
            usleep(1_000)
        }
    }

    /// With idleBackingFiles off, every last release closes the backing id
    /// and the next open registers the file again.
    func testWithoutIdleBackingFilesEveryOpenRegistersAgain() throws {
        var o = ServerOptions()
        o.idleBackingFiles = false
        let fx = try MountFixture(options: o)
        defer { fx.tearDown() }
        roundTrip(fx)
        awaitReleases(fx)
        for _ in 0..<5 {
            let fd = open("\(fx.mountpoint)/big", O_RDONLY)
            XCTAssertGreaterThanOrEqual(fd, 0)
            close(fd)
            // Else the next open may find this one still open, and share its id.
            awaitReleases(fx)
        }
        let r = try XCTUnwrap(fx.report())
        XCTAssertEqual(r.passthroughReused, 0)
        XCTAssertEqual(r.backingFilesRegistered, r.passthroughOpens)
        XCTAssertGreaterThanOrEqual(r.backingFilesRegistered ?? 0, 7)
        XCTAssertEqual(r.backingFilesIdle, 0)
    }

    func testCloneFdGivesWorkersTheirOwnDescriptors() throws {
        var o = ServerOptions()
        o.cloneFd = true
        o.threads = 4
        let fx = try MountFixture(options: o)
        defer { fx.tearDown() }
        // Parallel load makes libfuse start more workers, each with a clone fd.
        let mnt = fx.mountpoint
        DispatchQueue.concurrentPerform(iterations: 4) { t in
            for i in 0..<300 {
                let fd = open("\(mnt)/f\(t)-\(i)", O_WRONLY | O_CREAT, 0o644)
                close(fd)
            }
        }
        roundTrip(fx)
        XCTAssertGreaterThanOrEqual(fuseDescriptors(fx.mount!.server.pid), 2)
    }

    /// A server grows its descriptor table before it serves, to its
    /// descriptor cache and 4096 more: growing it under load blocks every
    /// opening thread for an RCU grace period per doubling.
    func testTheDescriptorTableIsGrownBeforeServing() throws {
        var o = ServerOptions()
        o.fdCacheCapacity = 10_000
        let fx = try MountFixture(options: o)
        defer { fx.tearDown() }
        let status = try String(contentsOfFile: "/proc/\(fx.mount!.server.pid)/status", encoding: .utf8)
        let line = try XCTUnwrap(status.split(separator: "\n").first { $0.hasPrefix("FDSize:") })
        let size = try XCTUnwrap(Int(line.dropFirst("FDSize:".count).trimmingCharacters(in: .whitespaces)))
        // The kernel rounds a table up to a power of two.
        XCTAssertGreaterThanOrEqual(size, 14_096, "FDSize of a fresh server: \(size)")
        roundTrip(fx)
    }

    func testWritebackCacheAndSpliceStillRoundTrip() throws {
        var o = ServerOptions()
        o.writebackCache = true
        o.splice = true
        o.keepCache = true
        let fx = try MountFixture(options: o)
        defer { fx.tearDown() }
        roundTrip(fx)
        // Write-back caching: O_WRONLY + O_APPEND still appends.
        let fd = open("\(fx.mountpoint)/big", O_WRONLY | O_APPEND)
        XCTAssertEqual(write(fd, "tail", 4), 4)
        close(fd)
        var st = stat()
        XCTAssertEqual(lstat("\(fx.backing)/big", &st), 0)
        XCTAssertEqual(st.st_size, (1 << 20) + 4)
    }
}
