// The tool's identity: version, and the git revision of the tree it was
// built from when the binary still sits inside that tree.
import Workload
import Foundation
import ResultModel

enum ToolInfo {
    static let version = "0.1.0"

    /// The fusebench binary (resolved, so children can be started with it).
    static var executable: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    /// `git rev-parse HEAD` in the directory of the binary, plus "-dirty"
    /// when the tree has uncommitted changes to tracked files.
    static func gitRevision() -> String? {
        let dir = URL(fileURLWithPath: executable).deletingLastPathComponent().path
        guard let head = git(["-C", dir, "rev-parse", "HEAD"]), !head.isEmpty else { return nil }
        let dirty = git(["-C", dir, "status", "--porcelain", "--untracked-files=no"]).map { !$0.isEmpty } ?? false
        return dirty ? head + "-dirty" : head
    }

    private static func git(_ args: [String]) -> String? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/git")
        p.arguments = args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return nil }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { return nil }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static var identity: ToolIdentity {
        ToolIdentity(name: "fusebench", version: version, gitRevision: gitRevision())
    }
}
