// A reference server mounted for a test: backing directory, mountpoint and
// a native twin directory on the same file system, all in one scratch
// directory that is removed (after unmounting) when the test ends.
import Workload
import Foundation
import Contract
import FuseServer
import Glibc
import ResultModel
import Supervisor
import XCTest

/// A mounted reference server.
public final class MountFixture {
    /// Scratch space of the fixture.
    public let scratch: ScratchSpace
    /// The backing directory.
    public let backing: String
    /// The mountpoint.
    public let mountpoint: String
    /// A plain directory to compare against.
    public let native: String
    /// The mount.
    public private(set) var mount: FuseMount?
    /// The server's options.
    public let options: ServerOptions

    /// Mounts a reference server with `options`, restartable by `strategy`.
    public init(options: ServerOptions = ServerOptions(), strategy: Strategy? = nil) throws {
        try Isolation.requireMountSandbox()
        self.options = options
        scratch = try ScratchSpace()
        backing = try scratch.directory("backing")
        mountpoint = try scratch.directory("mnt")
        native = try scratch.directory("native")
        mount = try FuseMount(source: backing, mountpoint: mountpoint, options: options, dir: scratch.path,
                              executable: Binary.path, strategy: strategy)
    }

    /// The server's statistics now.
    public func report() -> ServerReport? { mount?.serverReport() }

    /// Count of requests of opcode `name` so far.
    public func count(_ name: String) -> UInt64 { report()?.opcodes[name]?.count ?? 0 }

    /// Unmounts, checks the server exited cleanly and nothing stays mounted,
    /// and removes the scratch space.
    public func tearDown(file: StaticString = #filePath, line: UInt = #line) {
        if let m = mount {
            let status = m.unmount()
            XCTAssertEqual(status, 0, "server exit status; log:\n\(m.server.logTail())", file: file, line: line)
            mount = nil
        }
        Isolation.assertNothingMounted(under: scratch.path, file: file, line: line)
        scratch.remove()
    }

    deinit {
        mount?.unmount()
        scratch.remove()
    }
}
