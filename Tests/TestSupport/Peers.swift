// Other servers for the tests (libfuse's passthrough_ll, built by the
// Makefile), and finding the processes a test left behind.
import Foundation
import Glibc
import XCTest

public enum Peers {
    /// passthrough_ll's command template, run through a link in `dir`, so
    /// that the check for leftover servers counts only the processes this
    /// test started (other work on the machine may run passthrough_ll too);
    /// `options` go after `-o`. Fails the test when it is not built.
    public static func passthroughLL(linkedIn dir: TempDir, options: String) throws -> String {
        let real = Binary.packageRoot + "/.build/peers/passthrough_ll"
        guard access(real, X_OK) == 0 else {
            XCTFail("\(real) is missing: `make test` builds it from libfuse's examples")
            throw XCTSkip("no passthrough_ll")
        }
        let link = passthroughLLLink(dir)
        if access(link, X_OK) != 0 { try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: real) }
        return "passthrough_ll=\(link) -f -o \(options) {mountpoint}"
    }

    /// The link `passthroughLL(linkedIn:)` makes in `dir`.
    public static func passthroughLLLink(_ dir: TempDir) -> String { dir.file("passthrough_ll") }

    /// Pids of live processes whose command line contains `text`.
    public static func processes(containing text: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).filter { Int($0) != nil }.filter { pid in
            let cmd = (try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)) ?? ""
            let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
            return cmd.contains(text) && !stat.contains(") Z ")
        }
    }
}
