// A built fileset kept from one run to the next within one invocation, for
// workloads that never change their fileset (a sweep over strategies builds
// a million files once, not once per strategy).
import Foundation
import Glibc
import Workload
import LoadGen

/// The one fileset kept between runs (in a scratch directory of its own,
/// locked like a run's, so that other invocations' sweeps leave it alone
/// while this one lives and remove it if this one dies).
final class FilesetCache: @unchecked Sendable {
    static let shared = FilesetCache()
    private let lock = NSLock()
    private var space: ScratchSpace?
    private var key: String?

    /// The key of `workload`'s fileset when no run of it can change the
    /// fileset (a mix of stat, open, read, randread, readdir and statfs,
    /// no real programs, no hazard scenario); nil otherwise.
    static func key(of workload: Workload) -> String? {
        let readOnly: Set<OpKind> = [.stat, .open, .read, .randread, .readdir, .statfs]
        guard workload.clients.isEmpty, workload.hazard == nil,
              workload.load.mix.allSatisfy({ readOnly.contains($0.op) }) else { return nil }
        let f = workload.load.fileset
        return "\(f.dirs)x\(f.filesPerDir)x\(f.fileSize)t\(workload.load.threads)"
    }

    /// Moves the kept fileset of `key` to `backing` (an empty directory);
    /// whether there was one.
    func take(_ key: String, into backing: String) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard self.key == key, let space else { return false }
        self.key = nil
        return rename(space.file("fileset"), backing) == 0
    }

    /// Keeps the fileset at `backing` for a later run of `key` (the one
    /// kept before goes).
    func keep(_ key: String, from backing: String) {
        lock.lock()
        defer { lock.unlock() }
        if space == nil { space = try? ScratchSpace() }
        guard let space else { return }
        try? FileManager.default.removeItem(atPath: space.file("fileset"))
        self.key = rename(backing, space.file("fileset")) == 0 ? key : nil
    }

    /// Removes what is kept (at the end of an invocation's runs).
    func clear() {
        lock.lock()
        defer { lock.unlock() }
        space?.remove()
        space = nil
        key = nil
    }
}
