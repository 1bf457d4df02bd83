// The eager revalidation storm: before a resuming server serves, every
// node id the earlier instances handed out is invalidated (attributes
// only: offset -1 takes no page locks, so a request waiting in the queue
// cannot deadlock it), and every entry is invalidated from a second thread
// while serving goes on (an entry invalidation takes the parent's lock,
// which a queued LOOKUP may hold until it is served). Entries are expired,
// not unhashed (FUSE_EXPIRE_ONLY, where the kernel has it): an unhashed
// directory is a deleted one to every process whose working directory it
// is (getcwd fails with ENOENT; git under the storm did), while an expired
// one is looked up again on the next walk, and dropped then if it changed.
import Contract
import CFuseShim
import Foundation
import Glibc

extension PassthroughFS {
    func revalidateEagerly(_ journaled: [Journal.Entry]) {
        guard let se = session else { return }
        // Every instance journals what it hands out: the same entry can be
        // there once per instance. Invalidate each once.
        var seenEntries = Set<[UInt8]>()
        let entries = journaled.filter { e in
            var key = withUnsafeBytes(of: e.parent) { Array($0) }
            key += e.name
            return seenEntries.insert(key).inserted
        }
        let start = fbshim_monotonic_ns()
        var seen = Set<UInt64>()
        var sent: UInt64 = 0
        for e in entries where seen.insert(e.node).inserted {
            _ = fbshim_notify_inval_inode(se, e.node, -1, 0)
            sent += 1
        }
        fbshim_atomic_store(&stats.region.pointee.revalidation_ns, fbshim_monotonic_ns() - start)
        fbshim_atomic_add(&stats.region.pointee.revalidation_notifies, Int64(sent))
        let stats = self.stats
        let box = SessionBox(se)
        let expireOnly = stats.region.pointee.proto_minor >= 38
        Thread.detachNewThread {
            let t0 = fbshim_monotonic_ns()
            var n: UInt64 = 0
            for e in entries {
                e.name.withUnsafeBufferPointer { b in
                    b.withMemoryRebound(to: CChar.self) { name in
                        var copy = Array(name) + [0]
                        if expireOnly {
                            let sent = fbshim_notify_expire_entry(box.se, e.parent, &copy, name.count)
                            if sent > 0 { fbshim_stats_sent(stats.region, UInt64(sent)) }
                        } else {
                            _ = fbshim_notify_inval_entry(box.se, e.parent, &copy, name.count)
                        }
                    }
                }
                n += 1
            }
            fbshim_atomic_add(&stats.region.pointee.revalidation_notifies, Int64(n))
            // Never 0 once done: the harness waits for it before its sweep.
            fbshim_atomic_store(&stats.region.pointee.entry_revalidation_ns, max(1, fbshim_monotonic_ns() - t0))
        }
    }
}

/// A session pointer handed to the entry-invalidation thread.
/// Unchecked Sendable: libfuse's notify calls may be made from any thread.
private struct SessionBox: @unchecked Sendable {
    let se: OpaquePointer
    init(_ se: OpaquePointer) { self.se = se }
}
