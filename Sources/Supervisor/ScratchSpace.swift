// Scratch directories for one run (backing directory, mountpoint, stats and
// logs), and the sweep that removes those of runs that were killed.
//
// Each run holds an flock on its directory's lock file for its whole life;
// a directory whose lock can be taken belongs to a dead run, unless it was
// kept ($FUSEBENCH_KEEP_SCRATCH: a "kept" file marks it), which only its
// owner removes.
import Workload
import Contract
import Foundation
import Glibc
import ResultModel

/// One run's scratch directory.
public final class ScratchSpace {
    /// The directory.
    public let path: String
    private let lockFd: Int32

    /// Where scratch directories go: $FUSEBENCH_SCRATCH, else $TMPDIR, else /tmp.
    public static var base: String { "\(Settings.scratchBase)/fusebench-scratch" }

    /// Creates a fresh scratch directory (after sweeping dead runs' ones).
    public init() throws {
        let base = Self.base
        do {
            try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        } catch {
            let reason = ((error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError)?.localizedDescription
                ?? error.localizedDescription
            throw SupervisorError.environment("cannot create the scratch directory \(base) (\(reason)); set "
                                              + "FUSEBENCH_SCRATCH to a writable directory on ext4 or xfs, such as /var/tmp")
        }
        Self.sweep(base)
        var template = Array("\(base)/run-\(getpid())-XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else {
            throw SupervisorError.failed("cannot create a scratch directory in \(base): \(String(cString: strerror(errno)))")
        }
        path = String(cString: p)
        lockFd = open("\(path)/lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard lockFd >= 0, flock(lockFd, LOCK_EX | LOCK_NB) == 0 else {
            throw SupervisorError.failed("cannot lock scratch directory \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// A path inside the scratch directory.
    public func file(_ name: String) -> String { "\(path)/\(name)" }

    /// Makes a subdirectory.
    public func directory(_ name: String) throws -> String {
        let p = file(name)
        try FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
        return p
    }

    /// Removes the scratch directory (kept, for debugging, when
    /// $FUSEBENCH_KEEP_SCRATCH is set). Call only once nothing is mounted in it.
    public func remove() {
        if !Settings.keepScratch {
            try? FileManager.default.removeItem(atPath: path)
        } else {
            _ = FileManager.default.createFile(atPath: file(Self.keptMarker),
                                               contents: Data("kept by FUSEBENCH_KEEP_SCRATCH; remove it by hand\n".utf8))
            writeStderr("fusebench: kept scratch directory \(path) (no sweep removes it; remove it by hand)\n")
        }
        close(lockFd)
    }

    /// The file that marks a directory kept for debugging.
    static let keptMarker = "kept"

    /// Removes scratch directories of runs that no longer hold their lock
    /// (never a kept one).
    public static func sweep(_ base: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: base) else { return }
        for name in names where name.hasPrefix("run-") {
            let dir = "\(base)/\(name)"
            if access("\(dir)/\(keptMarker)", F_OK) == 0 { continue }
            let fd = open("\(dir)/lock", O_RDWR | O_CLOEXEC)
            if fd < 0 {
                // Created but never locked: only remove when clearly old.
                var st = stat()
                if stat(dir, &st) == 0 && time(nil) - st.st_mtim.tv_sec > 3600 {
                    try? FileManager.default.removeItem(atPath: dir)
                }
                continue
            }
            if flock(fd, LOCK_EX | LOCK_NB) == 0 && !isMountedUnder(dir) {
                try? FileManager.default.removeItem(atPath: dir)
            }
            close(fd)
        }
    }

    /// True when anything in this namespace is mounted at or under `dir`.
    static func isMountedUnder(_ dir: String) -> Bool {
        let mounts = (try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8)) ?? ""
        return mounts.split(separator: "\n").contains { line in
            let f = line.split(separator: " ")
            return f.count > 1 && (f[1] == dir || f[1].hasPrefix(dir + "/"))
        }
    }
}
