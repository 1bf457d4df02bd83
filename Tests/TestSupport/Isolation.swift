// Test isolation: mount tests must run in a private mount namespace (make
// test runs `swift test` under unshare -m), so that nothing they mount can
// outlive them; and each checks /proc/self/mounts when it is done.
import Foundation
import Glibc
import XCTest

/// Guards for tests that mount.
public enum Isolation {
    /// The mount namespace of a process ("mnt:[...]").
    public static func namespace(of pid: String = "self") -> String? {
        try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/mnt")
    }

    /// Fails the test unless it runs as root in a mount namespace of its own.
    public static func requireMountSandbox(file: StaticString = #filePath, line: UInt = #line) throws {
        guard geteuid() == 0 else {
            XCTFail("mount tests need root", file: file, line: line)
            throw XCTSkip("not root")
        }
        // make test records the namespace it started in; the tests must run in another one.
        let outer = getenv("FUSEBENCH_OUTER_MNT_NS").map { String(cString: $0) }
        guard let mine = namespace(), let outer, mine != outer else {
            XCTFail("mount tests must run in a private mount namespace: run them with `make test` "
                    + "(unshare --mount --propagation private swift test)", file: file, line: line)
            throw XCTSkip("not in a private mount namespace")
        }
    }

    /// FUSE mounts in this namespace, as (mountpoint, type).
    public static func fuseMounts() -> [(String, String)] {
        let text = (try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            let f = line.split(separator: " ")
            guard f.count > 2, f[2].hasPrefix("fuse"), f[2] != "fusectl" else { return nil }
            return (String(f[1]), String(f[2]))
        }
    }

    /// Asserts that nothing under `dir` is mounted.
    public static func assertNothingMounted(under dir: String, file: StaticString = #filePath, line: UInt = #line) {
        let left = fuseMounts().filter { $0.0 == dir || $0.0.hasPrefix(dir + "/") }
        XCTAssertTrue(left.isEmpty, "mounts left behind: \(left)", file: file, line: line)
    }
}

/// A temporary directory on the default scratch file system (ext4 here).
public final class TempDir {
    /// Its path.
    public let path: String

    /// Creates one.
    public init(_ label: String = "test") throws {
        var template = Array("/tmp/fusebench-test-\(label)-XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else { throw NSError(domain: "mkdtemp", code: Int(errno)) }
        path = String(cString: p)
    }

    /// A path inside.
    public func file(_ name: String) -> String { "\(path)/\(name)" }

    /// Removes it.
    public func remove() { try? FileManager.default.removeItem(atPath: path) }

    deinit { remove() }
}
