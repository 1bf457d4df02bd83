// The keeper's side of handover-state: every server instance has a socket
// to the harness on which it hands over a duplicate of each file it opens
// (before the kernel learns the handle) and drops it on release. When the
// server dies, the duplicates stay here; the next server receives them
// all before it serves, and takes the old handles over as they are. A file
// unlinked while open survives because a descriptor of it never closed.
import Workload
import CFuseShim
import Foundation
import Contract
import FuseServer
import Glibc
import Synchronization

/// The open-file table of a connection, held outside the servers.
final class StateKeeper: Sendable {
    /// File handle -> our duplicate of the backing descriptor.
    private let held = Mutex<[UInt64: Int32]>([:])
    /// Per server socket (our end): signalled when the server's end closed.
    private let readers = Mutex<[Int32: DispatchSemaphore]>([:])

    /// A socket pair for a new server: returns (ours, theirs). Our end is
    /// read by a thread until the server's end closes.
    func connect() throws -> (ours: Int32, theirs: Int32) {
        var fds: [Int32] = [-1, -1]
        guard fbshim_seqpacket_pair(&fds) == 0 else {
            throw SupervisorError.failed("socketpair failed: \(String(cString: strerror(errno)))")
        }
        let done = DispatchSemaphore(value: 0)
        readers.withLock { $0[fds[0]] = done }
        let sock = fds[0]
        Thread.detachNewThread { [self] in
            read(sock)
            done.signal()
        }
        return (fds[0], fds[1])
    }

    private func read(_ sock: Int32) {
        var buf = [UInt8](repeating: 0, count: 16)
        var fds: [Int32] = [-1]
        while true {
            var n: Int32 = 0
            let len = fbshim_recv_with_fds(sock, &buf, buf.count, &fds, 1, &n)
            if len <= 0 { return }
            guard let m = KeeperMessage(buf, count: len) else {
                if n == 1 { close(fds[0]) }
                continue
            }
            var stale: Int32 = -1
            switch m {
            case .hold(let fh) where n == 1:
                stale = held.withLock { $0.updateValue(fds[0], forKey: fh) } ?? -1
            case .drop(let fh):
                stale = held.withLock { $0.removeValue(forKey: fh) } ?? -1
            default:
                if n == 1 { close(fds[0]) }
            }
            if stale >= 0 { close(stale) }
        }
    }

    /// After server `previous` died: waits until everything it sent was
    /// read (its end of the socket closed), then gives the whole table to
    /// the server on `next` and ends with "E".
    func handOver(from previous: Int32, to next: Int32) {
        waitForReader(previous)
        let table = held.withLock { $0 }
        for (fh, fd) in table {
            var fds = [fd]
            let m = KeeperMessage.hold(fh: fh).bytes
            _ = m.withUnsafeBytes { fbshim_send_with_fds(next, $0.baseAddress, m.count, &fds, 1) }
        }
        let end = KeeperMessage.end.bytes
        _ = end.withUnsafeBytes { fbshim_send_with_fds(next, $0.baseAddress, end.count, nil, 0) }
    }

    /// Closes a server's socket (ours) once it is no longer needed.
    func disconnect(_ sock: Int32) {
        shutdown(sock, Int32(SHUT_RDWR))
        waitForReader(sock)
        readers.withLock { _ = $0.removeValue(forKey: sock) }
        close(sock)
    }

    /// Waits (up to 2 s) until the reader of `sock` has seen its end.
    private func waitForReader(_ sock: Int32) {
        guard let done = readers.withLock({ $0[sock] }) else { return }
        // Signalled once; pass it on to the next waiter.
        if done.wait(timeout: .now() + 2) == .success { done.signal() }
    }

    /// Closes every held descriptor (the connection is gone).
    func closeAll() {
        let socks = readers.withLock { Array($0.keys) }
        for s in socks { disconnect(s) }
        let table = held.withLock { t -> [UInt64: Int32] in
            defer { t.removeAll() }
            return t
        }
        for fd in table.values { close(fd) }
    }
}
