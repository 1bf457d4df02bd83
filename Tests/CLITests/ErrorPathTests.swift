// Bad input and unsuitable machines get a clear message and a documented
// exit code, never a hang; and nothing is left mounted or on disk when a
// run fails, is interrupted, or the harness is SIGKILLed.
import Foundation
import Glibc
import ResultModel
import TestSupport
import XCTest

final class ErrorPathTests: XCTestCase {
    var dir: TempDir!

    override func setUpWithError() throws {
        try Isolation.requireMountSandbox()
        dir = try TempDir("errors")
    }

    override func tearDown() {
        Isolation.assertNothingMounted(under: "/tmp")
        dir?.remove()
    }

    func write(_ name: String, _ text: String) -> String {
        let p = dir.file(name)
        _ = FileManager.default.createFile(atPath: p, contents: Data(text.utf8))
        return p
    }

    func testMalformedWorkloadsExitTwoNamingFileAndField() throws {
        let cases: [(String, String, String)] = [
            ("syntax.json", "{ \"name\": ", "not valid JSON"),
            ("weight.json", #"{"name":"w","mix":[{"op":"stat","weight":"heavy"}]}"#, "field 'mix[0].weight'"),
            ("op.json", #"{"name":"w","mix":[{"op":"teleport"}]}"#, "field 'mix[0].op': unknown value"),
            ("typo.json", #"{"name":"w","treads":4,"mix":[{"op":"stat"}]}"#, "field 'treads': unknown field"),
            ("nomix.json", #"{"name":"w"}"#, "field 'mix': is required"),
        ]
        for (name, text, phrase) in cases {
            let path = write(name, text)
            let r = try Binary.run(["run", path, "--output", dir.file("never.json")])
            XCTAssertEqual(r.status, 2, name)
            XCTAssertTrue(r.stderr.contains(path), "\(name): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(phrase), "\(name): \(r.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir.file("never.json")))
        }
        let missing = try Binary.run(["run", dir.file("absent.json")])
        XCTAssertEqual(missing.status, 2)
        XCTAssertTrue(missing.stderr.contains("cannot read the file"), missing.stderr)
        let usage = try Binary.run(["run", "workloads/smoke.json", "--duration", "forever"])
        XCTAssertEqual(usage.status, 2, usage.stderr)
        XCTAssertTrue(usage.stderr.contains("--duration"), usage.stderr)
    }

    func testNotRootIsAClearErrorWithExitThree() throws {
        let r = try Binary.run(["--reuid=65534", "--regid=65534", "--clear-groups", Binary.path,
                                "run", "workloads/smoke.json"], executable: "/usr/bin/setpriv", timeout: 30)
        XCTAssertEqual(r.status, 3, r.stderr)
        XCTAssertTrue(r.stderr.contains("needs root"), r.stderr)
    }

    func testServeAsNonRootIsAClearErrorWithExitThree() throws {
        let src = dir.file("src"), mnt = dir.file("mnt")
        for d in [src, mnt] { try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true) }
        chmod(dir.path, 0o755)
        let r = try Binary.run(["--reuid=65534", "--regid=65534", "--clear-groups", Binary.path,
                                "serve", "--source", src, mnt], executable: "/usr/bin/setpriv", timeout: 30)
        XCTAssertEqual(r.status, 3, r.stderr)
        XCTAssertTrue(r.stderr.contains("serve needs root"), r.stderr)
    }

    /// Former silent no-ops (issue 17): each is an error that says what to
    /// do, exit 2, with nothing written; a scratch space that cannot be made
    /// is the environment's fault, exit 3.
    func testRunsThatWouldDoNothingOfWhatTheyAskAreErrors() throws {
        let never = dir.file("never.json")
        let cases: [([String], Int32, String)] = [
            (["--fault", "kill:at=10s", "--duration", "1.5"], 2,
             "the fault kill:at=10s falls after the end of the measured phase (1.5s)"),
            (["--fault", "kill:every=3s", "--duration", "1"], 2, "falls after the end of the measured phase"),
            (["--strategy", "handover-lazy"], 2, "injects no fault, so nothing would restart"),
        ]
        for (args, status, phrase) in cases {
            let r = try Binary.run(["run", "workloads/smoke.json"] + args + ["--output", never])
            XCTAssertEqual(r.status, status, "\(args): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(phrase), "\(args): \(r.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: never))
        }
        let proc = try Binary.run(["run", "workloads/smoke.json", "--output", never],
                                  environment: ["FUSEBENCH_SCRATCH": "/proc/fusebench"])
        XCTAssertEqual(proc.status, 3, proc.stderr)
        XCTAssertTrue(proc.stderr.contains("cannot create the scratch directory /proc/fusebench/fusebench-scratch"),
                      proc.stderr)
        XCTAssertTrue(proc.stderr.contains("FUSEBENCH_SCRATCH"), proc.stderr)
        XCTAssertFalse(proc.stderr.contains("NSCocoaErrorDomain"), proc.stderr)
    }

    func testNoFuseDeviceIsAClearErrorWithExitThree() throws {
        let absent = try Binary.run(["run", "workloads/smoke.json"],
                                    environment: ["FUSEBENCH_FUSE_DEVICE": dir.file("no-such-device")], timeout: 30)
        XCTAssertEqual(absent.status, 3, absent.stderr)
        XCTAssertTrue(absent.stderr.contains("no FUSE device"), absent.stderr)
        let fake = write("fake-fuse", "")
        let wrong = try Binary.run(["run", "workloads/smoke.json"], environment: ["FUSEBENCH_FUSE_DEVICE": fake],
                                   timeout: 30)
        XCTAssertEqual(wrong.status, 3, wrong.stderr)
        XCTAssertTrue(wrong.stderr.contains("not a character device"), wrong.stderr)
    }

    func testScratchWithoutFileHandlesIsRefusedAndCleanedUp() throws {
        let tmpfs = dir.file("tmpfs")
        try FileManager.default.createDirectory(atPath: tmpfs, withIntermediateDirectories: true)
        XCTAssertEqual(try Binary.run(["-t", "tmpfs", "none", tmpfs], executable: "/bin/mount").status, 0)
        defer { _ = try? Binary.run([tmpfs], executable: "/bin/umount") }
        let r = try Binary.run(["run", "workloads/smoke.json", "--quiet"], environment: ["FUSEBENCH_SCRATCH": tmpfs])
        XCTAssertEqual(r.status, 3, r.stderr)
        XCTAssertTrue(r.stderr.contains("nodeIds"), r.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: "\(tmpfs)/fusebench-scratch"), [])
        // With ephemeral node ids the same file system works.
        let w = write("eph.json", #"{"name":"eph","duration":0.2,"warmup":0,"mix":[{"op":"stat"},{"op":"create"}],"#
                      + #""server":{"nodeIds":"ephemeral"}}"#)
        let ok = try Binary.run(["run", w, "--quiet", "--output", dir.file("eph-result.json")],
                                environment: ["FUSEBENCH_SCRATCH": tmpfs])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertEqual(try ResultFile.read(dir.file("eph-result.json")).runs[0].total.errors, [:])
    }

    // MARK: - Processes killed in the middle

    /// Starts a long run; returns the process once its load is running.
    func startLongRun(scratch: String) throws -> (Process, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Binary.path)
        p.arguments = ["run", "workloads/smoke.json", "--duration", "60", "--output", dir.file("killed.json")]
        p.currentDirectoryURL = URL(fileURLWithPath: Binary.packageRoot)
        p.environment = ProcessInfo.processInfo.environment.merging(["FUSEBENCH_SCRATCH": scratch]) { $1 }
        let errPath = dir.file("stderr")
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            let text = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
            if text.contains("measure") { return (p, errPath) }
            if !p.isRunning { break }
            usleep(50_000)
        }
        XCTFail("the run did not start measuring: \((try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "")")
        kill(p.processIdentifier, SIGKILL)
        throw XCTSkip("run did not start")
    }

    /// Reference server processes started for the harness `pid` (they are
    /// children of its spawner process); looks for up to 5 s.
    func servers(of pid: pid_t) -> [pid_t] {
        var found: [pid_t] = []
        _ = waitUntil(5) {
            found = children(of: pid).flatMap { [$0] + children(of: $0) }.filter { p in
                let cmd = (try? String(contentsOfFile: "/proc/\(p)/cmdline", encoding: .utf8)) ?? ""
                // A server's teardown holder shares its memory, command line included.
                let comm = (try? String(contentsOfFile: "/proc/\(p)/comm", encoding: .utf8)) ?? ""
                return cmd.split(separator: "\0").dropFirst().first == "serve" && !comm.hasPrefix("fb-teardown")
            }
            return !found.isEmpty
        }
        return found
    }

    /// The one server of `harness`, or a failed test (never a crash).
    func theServer(of harness: Process, file: StaticString = #filePath, line: UInt = #line) throws -> pid_t {
        let found = servers(of: harness.processIdentifier)
        guard found.count == 1 else {
            XCTFail("expected one server process, found \(found)", file: file, line: line)
            _ = harness.finish(within: 0)
            throw XCTSkip("no server process")
        }
        return found[0]
    }

    /// Pids whose parent is `pid`.
    func children(of pid: pid_t) -> [pid_t] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return names.compactMap { Int32($0) }.filter { child in
            guard let stat = try? String(contentsOfFile: "/proc/\(child)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return false }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 1 && Int32(fields[1]) == pid
        }
    }

    /// Live (non-zombie) processes in mount namespace `ns`.
    func processes(in ns: String) -> [pid_t] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return names.compactMap { Int32($0) }.filter { pid in
            Isolation.namespace(of: String(pid)) == ns
        }
    }

    func testSigkilledHarnessLeavesNoMountAndNoServer() throws {
        let scratch = try TempDir("killed-scratch")
        let (harness, _) = try startLongRun(scratch: scratch.path)
        let pid = harness.processIdentifier
        let ns = try XCTUnwrap(Isolation.namespace(of: String(pid)))
        XCTAssertNotEqual(ns, Isolation.namespace(), "the harness runs in a mount namespace of its own")
        let server = try theServer(of: harness)
        XCTAssertTrue(processes(in: ns).contains(server))

        kill(pid, SIGKILL)
        XCTAssertTrue(harness.finish(within: 10), "the killed harness did not end")
        XCTAssertTrue(waitUntil(10) { processes(in: ns).isEmpty },
                      "processes still in the harness's namespace: \(processes(in: ns))")
        XCTAssertTrue(Isolation.fuseMounts().isEmpty, "\(Isolation.fuseMounts())")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.file("killed.json")), "no half-written result")

        // The killed run's scratch directory is swept by the next run.
        let base = "\(scratch.path)/fusebench-scratch"
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: base)
        XCTAssertEqual(leftovers.count, 1)
        let next = try Binary.run(["run", "workloads/smoke.json", "--target", "native", "--duration", "0.1",
                                   "--warmup", "0", "--quiet", "--output", dir.file("next.json")],
                                  environment: ["FUSEBENCH_SCRATCH": scratch.path])
        XCTAssertEqual(next.status, 0, next.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: base), [])
    }

    func testInterruptedRunCleansUpAndExits130() throws {
        let scratch = try TempDir("int-scratch")
        let (harness, errPath) = try startLongRun(scratch: scratch.path)
        usleep(500_000)  // some of the measured phase
        kill(harness.processIdentifier, SIGINT)
        guard harness.finish(within: 20) else { return XCTFail("the harness did not stop after SIGINT") }
        XCTAssertEqual(harness.terminationStatus, 130)
        let err = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        XCTAssertTrue(err.contains("interrupted"), err)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: "\(scratch.path)/fusebench-scratch"), [])
        // What was measured until the signal is written, marked partial (fio's habit).
        XCTAssertTrue(err.contains("wrote the partial result"), err)
        try ResultSchema.assertValid(dir.file("killed.json"))
        let doc = try ResultFile.read(dir.file("killed.json"))
        XCTAssertEqual(doc.partial, true)
        XCTAssertEqual(doc.runs.count, 1)
        XCTAssertEqual(doc.runs[0].partial, true)
        XCTAssertGreaterThan(doc.runs[0].total.count, 0, "the operations measured before the signal")
        XCTAssertLessThan(doc.runs[0].measuredSeconds, 60)
    }

    func testServerDeathDuringARunIsReportedAndCleanedUp() throws {
        let scratch = try TempDir("dead-scratch")
        let (harness, errPath) = try startLongRun(scratch: scratch.path)
        kill(try theServer(of: harness), SIGKILL)
        guard harness.finish(within: 30) else { return XCTFail("the harness did not notice the dead server") }
        XCTAssertEqual(harness.terminationStatus, 1)
        let err = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        XCTAssertTrue(err.contains("was killed by signal 9 during the run"), err)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: "\(scratch.path)/fusebench-scratch"), [])
    }
}

extension ErrorPathTests {
    /// A server that stops answering (SIGSTOP) never hangs the harness:
    /// the watchdog aborts the connection and the run exits 4.
    func testHungServerTripsTheWatchdog() throws {
        let scratch = try TempDir("hung-scratch")
        setenv("FUSEBENCH_WATCHDOG_SECONDS", "1", 1)
        defer { unsetenv("FUSEBENCH_WATCHDOG_SECONDS") }
        let (harness, errPath) = try startLongRun(scratch: scratch.path)
        let server = try theServer(of: harness)
        defer { if kill(server, 0) == 0 && !isZombie(server) { kill(server, SIGKILL) } }
        kill(server, SIGSTOP)
        guard harness.finish(within: 30) else { return XCTFail("the harness hung behind a stopped server") }
        XCTAssertEqual(harness.terminationStatus, 4)
        let err = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        XCTAssertTrue(err.contains("made no progress"), err)
        XCTAssertTrue(waitUntil(10) { kill(server, 0) != 0 || isZombie(server) }, "stopped server was not killed")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: "\(scratch.path)/fusebench-scratch"), [])
    }

    func isZombie(_ pid: pid_t) -> Bool {
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        guard let close = stat.lastIndex(of: ")") else { return true }
        return stat[stat.index(after: close)...].split(separator: " ").first == "Z"
    }
}
