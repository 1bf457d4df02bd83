// Waiting for a condition in a test, without a fixed sleep.
import Foundation
import Glibc

/// Whether `condition` holds within `seconds`, looked at every 20 ms.
public func waitUntil(_ seconds: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        usleep(20_000)
    }
    return condition()
}
