// The harness-server contract as values: keeper messages on the wire, the
// descriptor slots of a launch, and the settings read from the environment.
import CFuseShim
import Contract
import Foundation
import XCTest

final class ContractTests: XCTestCase {
    func testKeeperMessagesRoundTripAndRejectOtherBytes() {
        for m in [KeeperMessage.hold(fh: 0x0102_0304_0506_0708), .drop(fh: 42), .end] {
            let b = m.bytes
            XCTAssertEqual(b.count, KeeperMessage.size)
            XCTAssertEqual(KeeperMessage(b, count: b.count), m)
        }
        XCTAssertEqual(KeeperMessage.hold(fh: 1).bytes, [UInt8(ascii: "K"), 1, 0, 0, 0, 0, 0, 0, 0], "little-endian fh")
        XCTAssertNil(KeeperMessage([UInt8(ascii: "X")] + [UInt8](repeating: 0, count: 8), count: 9), "unknown op")
        XCTAssertNil(KeeperMessage(KeeperMessage.end.bytes, count: 8), "short")
    }

    func testALaunchNamesEachSlotOnceAndFillsTheRestartDescriptors() throws {
        var l = ServerLaunch(source: "/s", mountpoint: "/m", statsPath: "/st", options: ServerOptions(),
                             restart: RestartOptions(), standby: false, keeper: false)
        XCTAssertEqual(l.slots, [.fuse, .ready, .lifeline, .deathNotice])
        XCTAssertNil(l.resolvedRestart.standbyFd)
        XCTAssertNil(l.resolvedRestart.stateFd)
        l.standby = true
        l.keeper = true
        XCTAssertEqual(l.slots, LaunchSlot.allCases)
        XCTAssertEqual(l.resolvedRestart.standbyFd, LaunchSlot.standbyGo.rawValue)
        XCTAssertEqual(l.resolvedRestart.stateFd, LaunchSlot.keeper.rawValue)
        XCTAssertEqual(Set(LaunchSlot.allCases.map(\.rawValue)).count, LaunchSlot.allCases.count)
        XCTAssertTrue(LaunchSlot.allCases.allSatisfy { $0.rawValue > 2 }, "standard streams stay free")
        let decoded = try JSONDecoder().decode(ServerLaunch.self, from: JSONEncoder().encode(l))
        XCTAssertEqual(decoded, l)
    }

    func testSettingsAreReadWhenAsked() {
        unsetenv("FUSEBENCH_SERVER_FAIL_PERCENT")
        XCTAssertEqual(Settings.serverFailPercent, 0)
        setenv("FUSEBENCH_SERVER_FAIL_PERCENT", "2.5", 1)
        defer { unsetenv("FUSEBENCH_SERVER_FAIL_PERCENT") }
        XCTAssertEqual(Settings.serverFailPercent, 2.5)
        setenv("FUSEBENCH_READY_TIMEOUT", "", 1)
        defer { unsetenv("FUSEBENCH_READY_TIMEOUT") }
        XCTAssertEqual(Settings.readyTimeout, 15, "empty means unset")
    }

    func testOpcodesByName() {
        XCTAssertEqual(Opcode(name: "write"), .write)
        XCTAssertEqual(Opcode(name: "BATCH_FORGET"), .batchForget)
        XCTAssertNil(Opcode(name: "FROB"))
    }

    /// A `sleep 30` asleep in a system call that is not a FUSE read, with no
    /// fatal signal; killed and reaped at the end of the test.
    func startSleeper() throws -> pid_t {
        let sleeper = Process()
        sleeper.executableURL = URL(fileURLWithPath: "/bin/sleep")
        sleeper.arguments = ["30"]
        try sleeper.run()
        let pid = sleeper.processIdentifier
        addTeardownBlock { if sleeper.isRunning { kill(pid, SIGKILL) }; sleeper.waitUntilExit() }
        var asleep = false
        for _ in 0..<200 where !asleep {
            asleep = ((try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? "").contains(") S ")
            if !asleep { usleep(10_000) }
        }
        XCTAssertTrue(asleep, "the sleeper never went to sleep")
        return pid
    }

    /// The resend waits until no thread of a dead server can read a request.
    /// A process merely asleep (as a crashing one is while a crash handler
    /// runs) can still wake and read; once SIGKILL has struck, it cannot.
    func testOnlyAKilledProcessCountsAsUnableToRead() throws {
        let pid = try startSleeper()
        XCTAssertEqual(fbshim_no_thread_reads_fuse(pid, nil), 0, "an asleep process without SIGKILL could still read")
        kill(pid, SIGKILL)
        var out = Int32(0)
        for _ in 0..<500 where out == 0 {
            out = fbshim_no_thread_reads_fuse(pid, nil)
            if out == 0 { usleep(10_000) }
        }
        XCTAssertEqual(out, 1, "a SIGKILLed process counts as unable to read")
    }

    /// The read stop: a reader marks itself reading before each read of the
    /// device and checks the stop; once the harness has set it, a reader
    /// found serving is out however it sleeps (here: alive, no SIGKILL),
    /// and one found reading is not.
    func testAReaderFoundServingAfterTheStopCountsAsUnableToRead() throws {
        let stats = StatsRegion()
        XCTAssertEqual(fbshim_reader_enter(stats.region), 0, "no stop yet: read")
        fbshim_reader_leave(stats.region)
        XCTAssertEqual(stats.region.pointee.reader_count, 1, "a slot taken at the first read")
        let pid = try startSleeper()
        // The sleeper stands for a dead server's only reader, in slot 1.
        func mark(_ state: UInt32) {
            withUnsafeMutablePointer(to: &stats.region.pointee.readers) {
                $0.withMemoryRebound(to: fbshim_reader.self, capacity: Int(FBSHIM_READERS)) { r in
                    r[1] = fbshim_reader(tid: pid, state: state)
                }
            }
            stats.region.pointee.reader_count = 2
        }
        mark(UInt32(FBSHIM_READER_SERVING))
        XCTAssertEqual(fbshim_no_thread_reads_fuse(pid, stats.region), 0, "serving, but no stop yet: it may read again")
        fbshim_stop_readers(stats.region)
        XCTAssertEqual(fbshim_reader_enter(stats.region), 1, "after the stop a reader must not read")
        XCTAssertEqual(fbshim_no_thread_reads_fuse(pid, stats.region), 1, "serving after the stop: out")
        mark(UInt32(FBSHIM_READER_READING))
        XCTAssertEqual(fbshim_no_thread_reads_fuse(pid, stats.region), 0, "reading (or about to): not out")
    }

    /// A thread that is none of the readers of a server whose every read
    /// of the device goes through them (the main thread asleep on a futex,
    /// say) is out once the reads are stopped, SIGKILL or not; not before
    /// the stop, nor when the server reads some other way (io_uring, splice).
    func testAThreadThatIsNoReaderCountsAsUnableToReadOnlyWhenEveryReadIsTracked() throws {
        let stats = StatsRegion()
        XCTAssertEqual(fbshim_reader_enter(stats.region), 0)
        fbshim_reader_leave(stats.region)
        // The sleeper stands for a thread of the server that never took a slot.
        let pid = try startSleeper()
        fbshim_stop_readers(stats.region)
        XCTAssertEqual(fbshim_no_thread_reads_fuse(pid, stats.region), 0, "reads not all tracked: it might read")
        fbshim_set_readers_complete(stats.region)
        XCTAssertEqual(fbshim_no_thread_reads_fuse(pid, stats.region), 1, "no reader, every read tracked: out")
        // The same thread as a reader found reading: not out.
        withUnsafeMutablePointer(to: &stats.region.pointee.readers) {
            $0.withMemoryRebound(to: fbshim_reader.self, capacity: Int(FBSHIM_READERS)) { r in
                r[1] = fbshim_reader(tid: pid, state: UInt32(FBSHIM_READER_READING))
            }
        }
        stats.region.pointee.reader_count = 2
        XCTAssertEqual(fbshim_no_thread_reads_fuse(pid, stats.region), 0, "a reader reading: not out")
        // More readers than slots: some went untracked.
        stats.region.pointee.reader_count = UInt32(FBSHIM_READERS) + 1
        XCTAssertEqual(fbshim_no_thread_reads_fuse(pid, stats.region), 0, "untracked readers: not out")
    }
}
