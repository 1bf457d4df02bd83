// Work on another thread that a probe waits for with a bound (a call on a
// mount whose server is down must not hang the probe).
import Workload
import CFuseShim
import Foundation
import Contract
import FuseServer
import Glibc
import ResultModel

/// A body running on a thread of its own, whose value is awaited with a
/// time limit (a call into a FUSE mount can block until the connection is
/// aborted).
/// Unchecked Sendable: `value` is written once by the worker thread before
/// it signals `done`, and read only after a successful wait on `done`.
final class Background<T>: @unchecked Sendable {
    private var value: T?
    private let done = DispatchSemaphore(value: 0)

    /// Starts `body`.
    init(_ body: @escaping () -> T) {
        let run = UnsafeSendable(body)
        Thread.detachNewThread { [self] in
            value = run.value()
            done.signal()
        }
    }

    /// The value, or nil when it is not there within `seconds`.
    func wait(seconds: Double) -> T? {
        guard done.wait(timeout: .now() + seconds) == .success else { return nil }
        done.signal()
        return value
    }
}

/// Carries a non-Sendable value to the one thread that uses it.
/// Unchecked Sendable: the value moves to one thread and is used there only.
struct UnsafeSendable<V>: @unchecked Sendable {
    let value: V
    init(_ value: V) { self.value = value }
}
