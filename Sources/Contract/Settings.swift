// Every FUSEBENCH_* environment variable, read here and nowhere else, with
// its default. Read when asked (not cached), so that a test may set one
// for the call it makes. The README lists them under "Environment".
import Glibc

/// The environment's settings.
public enum Settings {
    /// A variable's value; nil when unset or empty.
    static func value(_ name: String) -> String? {
        guard let p = getenv(name), p.pointee != 0 else { return nil }
        return String(cString: p)
    }

    /// FUSEBENCH_SCRATCH, else TMPDIR, else /tmp: where scratch directories go.
    public static var scratchBase: String { value("FUSEBENCH_SCRATCH") ?? value("TMPDIR") ?? "/tmp" }
    /// FUSEBENCH_KEEP_SCRATCH: keep the scratch directory after the run.
    public static var keepScratch: Bool { getenv("FUSEBENCH_KEEP_SCRATCH") != nil }
    /// FUSEBENCH_WATCHDOG_SECONDS (30): an operation in flight longer than
    /// this aborts the connection.
    public static var watchdogSeconds: Double { value("FUSEBENCH_WATCHDOG_SECONDS").flatMap(Double.init) ?? 30 }
    /// FUSEBENCH_READY_TIMEOUT (15): seconds a server may take to answer INIT.
    public static var readyTimeout: Double { value("FUSEBENCH_READY_TIMEOUT").flatMap(Double.init) ?? 15 }
    /// FUSEBENCH_FUSE_DEVICE (/dev/fuse).
    public static var fuseDevice: String { value("FUSEBENCH_FUSE_DEVICE") ?? "/dev/fuse" }
    /// FUSEBENCH_DEBUG: trace the fault supervisor's steps on stderr.
    public static var debug: Bool { getenv("FUSEBENCH_DEBUG") != nil }
    /// FUSEBENCH_DEFER_TEARDOWN_MS: how long after its death a reference
    /// server's address space is torn down (0: at once, by the kernel, as
    /// usual; unset: 250 for servers the harness starts, 0 for others).
    public static var deferTeardownMs: Int? { getenv("FUSEBENCH_DEFER_TEARDOWN_MS").flatMap { Int(String(cString: $0)) } }
    /// FUSEBENCH_DYING_CPU: where a dying server's threads are moved when
    /// the harness kills it or hears its death notice: "away" (default: to
    /// a CPU other than the harness's, whose work then goes on), "same"
    /// (onto the harness's CPU), "stay" (not moved).
    public static var dyingCPU: String { getenv("FUSEBENCH_DYING_CPU").map { String(cString: $0) } ?? "away" }
    /// FUSEBENCH_HANDOVER_SPIN_MS (20): for how long the harness, in a
    /// handover, waits for the dead server's threads by yielding its CPU
    /// instead of sleeping (then it sleeps 50 us at a time); 0: it sleeps
    /// from the start.
    public static var handoverSpinNs: UInt64 {
        UInt64(max(0, value("FUSEBENCH_HANDOVER_SPIN_MS").flatMap { Double($0) } ?? 20) * 1e6)
    }
    /// FUSEBENCH_STANDBY_GO: when a warm standby is let go in a handover
    /// whose gate has no work that needs the dead server quiet: "notice"
    /// (default: at the death notice, before the dead server's threads are
    /// out and the resend) or "resend" (after the resend, as every strategy
    /// with gate work does).
    public static var standbyGo: String { getenv("FUSEBENCH_STANDBY_GO").map { String(cString: $0) } ?? "notice" }
    /// FUSEBENCH_PRIVATE_MOUNT_NS: set by the harness to the id of the mount
    /// namespace it made for itself (re-executed into it).
    public static let privateNamespaceVariable = "FUSEBENCH_PRIVATE_MOUNT_NS"
    /// The value of FUSEBENCH_PRIVATE_MOUNT_NS.
    public static var privateNamespace: String? { value(privateNamespaceVariable) }
    /// FUSEBENCH_SERVER_DELAY_US (0): debug, every request of the reference
    /// server waits this long before it is served.
    public static var serverDelayMicros: UInt32 { value("FUSEBENCH_SERVER_DELAY_US").flatMap { UInt32($0) } ?? 0 }
    /// FUSEBENCH_SERVER_FAIL_PERCENT (0): debug, the reference server answers
    /// one request in every 100/P with EIO.
    public static var serverFailPercent: Double { value("FUSEBENCH_SERVER_FAIL_PERCENT").flatMap(Double.init) ?? 0 }
    /// FUSEBENCH_TEST_HANG_INSTANCE: test hook, server instance N never serves.
    public static var testHangInstance: UInt32? { value("FUSEBENCH_TEST_HANG_INSTANCE").flatMap { UInt32($0) } }
    /// FUSEBENCH_TEST_RESEND_DELAY_MS: test hook, a handover's resend comes
    /// this long after the dead server's threads are out (as when a thread
    /// takes that long to leave), while a standby let go at the notice serves.
    public static var testResendDelayMs: UInt32 { value("FUSEBENCH_TEST_RESEND_DELAY_MS").flatMap { UInt32($0) } ?? 0 }
}
