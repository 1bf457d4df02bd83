// Node ids handed out by one server process mean the same files to another
// server process over the same backing directory (handle scheme), and mean
// nothing to it with the ephemeral scheme.
import CFuseShim
import Contract
import FuseServer
import Glibc
import TestSupport
import XCTest

final class NodeIdTests: XCTestCase {
    /// The node id the kernel holds for `path` on a FUSE mount: FUSE's
    /// export handle is {nodeid >> 32, nodeid & 0xffffffff, generation}.
    func kernelNodeId(_ path: String) throws -> UInt64 {
        let h = try BackingHandle.of(AT_FDCWD, path, flags: 0)
        XCTAssertGreaterThanOrEqual(h.bytes.count, 8)
        func u32(_ i: Int) -> UInt64 {
            UInt64(h.bytes[i]) | UInt64(h.bytes[i + 1]) << 8 | UInt64(h.bytes[i + 2]) << 16 | UInt64(h.bytes[i + 3]) << 24
        }
        return u32(0) << 32 | u32(4)
    }

    func inode(_ path: String) -> UInt64 {
        var st = stat()
        XCTAssertEqual(lstat(path, &st), 0, path)
        return UInt64(st.st_ino)
    }

    func testSecondServerProcessResolvesHandleNodeIds() throws {
        let fx = try MountFixture()
        defer { fx.tearDown() }
        let m = fx.mountpoint
        XCTAssertEqual(mkdir("\(m)/d", 0o755), 0)
        for p in ["d/f", "g", "d/gone"] { close(open("\(m)/\(p)", O_WRONLY | O_CREAT, 0o644)) }
        XCTAssertEqual(symlink("g", "\(m)/l"), 0)
        let names = ["d", "d/f", "g", "l", "d/gone"]
        var ids: [String: UInt64] = [:]
        for n in names {
            ids[n] = try kernelNodeId("\(m)/\(n)")
            // The id is the backing file's (inode, generation).
            let backingHandle = try BackingHandle.of(AT_FDCWD, "\(fx.backing)/\(n)", flags: 0)
            XCTAssertEqual(ids[n], backingHandle.packedNodeId, n)
        }
        XCTAssertEqual(Set(ids.values).count, names.count, "distinct ids")

        // The first server goes away (as in a crash, it no longer holds the
        // files open), and a file is deleted behind its back: that id must
        // not resolve in the second process.
        XCTAssertEqual(fx.mount?.unmount(), 0)
        XCTAssertEqual(unlink("\(fx.backing)/d/gone"), 0)
        let hex = names.map { "0x" + String(ids[$0]!, radix: 16) }
        let out = try Binary.run(["resolve-node", "--source", fx.backing] + hex)
        XCTAssertEqual(out.status, 0, out.stderr)
        let lines = out.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, names.count)
        for (i, n) in names.enumerated() where n != "d/gone" {
            XCTAssertEqual(lines[i], "\(hex[i]) ino=\(inode("\(fx.backing)/\(n)"))", n)
        }
        XCTAssertEqual(lines[names.count - 1], "\(hex[names.count - 1]) ESTALE")
    }

    func testEphemeralIdsMeanNothingToAnotherProcess() throws {
        var o = ServerOptions()
        o.nodeIds = .ephemeral
        let fx = try MountFixture(options: o)
        defer { fx.tearDown() }
        for p in ["a", "b", "c"] { close(open("\(fx.mountpoint)/\(p)", O_WRONLY | O_CREAT, 0o644)) }
        let ids = try ["a", "b", "c"].map { try kernelNodeId("\(fx.mountpoint)/\($0)") }
        // Counter ids: small, consecutive-ish, nothing like an inode handle.
        XCTAssertTrue(ids.allSatisfy { $0 >= 2 && $0 < 1000 }, "\(ids)")
        XCTAssertEqual(Set(ids).count, 3)
        var st = stat()
        XCTAssertEqual(lstat("\(fx.mountpoint)/a", &st), 0, "the serving process resolves its own ids")
        let out = try Binary.run(["resolve-node", "--node-ids", "ephemeral", "--source", fx.backing]
                                 + ids.map { String($0) })
        XCTAssertEqual(out.status, 0, out.stderr)
        XCTAssertEqual(out.stdout.split(separator: "\n").map { $0.split(separator: " ").last! }, ["ESTALE", "ESTALE", "ESTALE"])
    }
}
