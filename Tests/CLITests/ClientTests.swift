// Real programs as the load, on real mounts through the built binary: exit
// status, verify, stderr, the mount kept until the last client exits, a
// client killed at its timeout, faults counted per client, and a program
// that holds a read-write descriptor across kills (issue 11's reproduction).
import Foundation
import Glibc
import ResultModel
import TestSupport
import XCTest

final class ClientTests: XCTestCase {
    var dir: TempDir!

    override func setUpWithError() throws {
        try Isolation.requireMountSandbox()
        dir = try TempDir("clients")
    }

    override func tearDown() {
        Isolation.assertNothingMounted(under: "/tmp")
        dir?.remove()
    }

    func workload(_ clients: [[String: Any]], mix: Bool, faults: [[String: Any]] = []) throws -> String {
        var w: [String: Any] = [
            "name": "clients-test", "warmup": 0, "clients": clients,
            "fileset": ["dirs": 1, "filesPerDir": 8, "fileSize": "16KiB"],
            "server": ["threads": 4], "faults": faults,
        ]
        if mix {
            w["threads"] = 1
            w["mix"] = [["op": "stat", "weight": 5], ["op": "held", "weight": 1]]
        }
        let path = dir.file("w-\(clients.count)-\(mix).json")
        try JSONSerialization.data(withJSONObject: w).write(to: URL(fileURLWithPath: path))
        return path
    }

    func run(_ args: [String], file: StaticString = #filePath, line: UInt = #line) throws -> (RunResult, String) {
        let out = dir.file("result-\(UUID().uuidString).json")
        let r = try Binary.run(["run"] + args + ["--output", out], timeout: 180)
        XCTAssertEqual(r.status, 0, r.stderr, file: file, line: line)
        try ResultSchema.assertValid(out, file: file, line: line)
        let doc = try ResultFile.read(out)
        XCTAssertEqual(doc.runs.count, 1, file: file, line: line)
        XCTAssertTrue(Isolation.fuseMounts().isEmpty, "\(Isolation.fuseMounts())", file: file, line: line)
        return (doc.runs[0], r.stdout)
    }

    func testExitStatusVerifyTimeoutAndTheMountKeptUntilTheLastClientExits() throws {
        let path = try workload([
            ["name": "writer", "setup": "echo ready > before",
             "run": "cat before > copy && echo data > out",
             "verify": "test \"$(cat {backingdir}/out)\" = data && test -s {backingdir}/copy"],
            ["name": "badverify", "run": "true", "verify": "echo mismatch >&2; exit 4"],
            ["name": "fails", "run": "echo boom >&2; exit 3"],
            ["name": "slow", "run": "sleep 60", "timeout": "1.5s"],
            // Still using the mount long after the synthetic load's usual length.
            ["name": "late", "run": "sleep 2.5 && echo late > late && test \"$(cat late)\" = late && test \"$(pwd)\" = {dir}"],
        ], mix: true)
        let (run, stdout) = try run([path])
        let clients = try XCTUnwrap(run.clients)
        let by = Dictionary(uniqueKeysWithValues: clients.map { ($0.name, $0) })
        XCTAssertEqual(Set(by.keys), ["writer", "badverify", "fails", "slow", "late"])

        let writer = try XCTUnwrap(by["writer"])
        XCTAssertTrue(writer.passed, "\(writer)")
        XCTAssertEqual(writer.setup?.exitStatus, 0)
        XCTAssertEqual(writer.verify?.exitStatus, 0)

        let badverify = try XCTUnwrap(by["badverify"])
        XCTAssertFalse(badverify.passed)
        XCTAssertEqual(badverify.run?.exitStatus, 0)
        XCTAssertEqual(badverify.verify?.exitStatus, 4)
        XCTAssertEqual(badverify.verify?.stderrTail, "mismatch")

        let fails = try XCTUnwrap(by["fails"])
        XCTAssertFalse(fails.passed)
        XCTAssertEqual(fails.run?.exitStatus, 3)
        XCTAssertEqual(fails.run?.stderrTail, "boom")
        XCTAssertNil(fails.verify)

        let slow = try XCTUnwrap(by["slow"])
        XCTAssertFalse(slow.passed)
        XCTAssertEqual(slow.run?.timedOut, true)
        XCTAssertEqual(slow.run?.signal, Int(SIGKILL))
        XCTAssertLessThan(slow.run?.seconds ?? 99, 10, "killed at its timeout, not at the end of its sleep")

        let late = try XCTUnwrap(by["late"])
        XCTAssertTrue(late.passed, "\(late)")
        XCTAssertGreaterThanOrEqual(late.run?.seconds ?? 0, 2.5)
        // The measured phase lasted until the last client exited, with the synthetic mix alongside.
        XCTAssertGreaterThanOrEqual(run.measuredSeconds, 2.5)
        XCTAssertGreaterThan(run.total.count, 0)

        XCTAssertTrue(stdout.contains("clients (pass"), stdout)
        XCTAssertTrue(stdout.contains("slow / reference: run: killed at its timeout"), stdout)
        XCTAssertTrue(stdout.contains("fails / reference: run: exit 3: boom"), stdout)
    }

    /// Issue 11's reproduction as a real program: a file opened read-write
    /// before kills, fsync'ed after them, then written again.
    func testAProgramHoldingADescriptorAcrossKillsPassesUnderHandover() throws {
        let script = """
            import os, time
            fd = os.open("f", os.O_RDWR | os.O_CREAT, 0o644)
            os.write(fd, b"before\\n")
            time.sleep(1.3)
            os.fsync(fd)
            os.write(fd, b"after\\n")
            os.fsync(fd)
            os.close(fd)
            """
        try script.write(toFile: dir.file("hold.py"), atomically: true, encoding: .utf8)
        let path = try workload([
            ["name": "hold", "run": "python3 \(dir.file("hold.py"))",
             "verify": "test \"$(cat {backingdir}/f)\" = \"$(printf 'before\\nafter')\""],
        ], mix: false, faults: [["kind": "kill", "every": "0.4s"]])
        for strategy in ["handover-lazy", "handover-epoch"] {
            let (run, _) = try run([path, "--strategy", strategy])
            let c = try XCTUnwrap(run.clients?.first)
            XCTAssertTrue(c.passed, "\(strategy): \(c)")
            XCTAssertGreaterThanOrEqual(c.faultsDuring, 2, "\(strategy): the kills fell while the file was held")
            XCTAssertNil(run.integrity, "no client threads, nothing of theirs to verify")
            XCTAssertEqual(run.threads, 0)
        }
    }

    func testCommandLineClientsAndTheirMistakes() throws {
        let (run, _) = try run(["workloads/smoke.json", "--no-mix", "--client", "pwd > where",
                                "--client", "named=test -d {mountpoint} && test -d {backing}"])
        let clients = try XCTUnwrap(run.clients)
        XCTAssertEqual(clients.map(\.name), ["client1", "named"])
        XCTAssertTrue(clients.allSatisfy(\.passed), "\(clients)")
        XCTAssertEqual(run.total.count, 0, "--no-mix: the clients are the whole load")

        for (args, phrase) in [
            (["--client", "cat {nowhere}"], "unknown placeholder {nowhere}"),
            (["--client", "true", "--duration", "2"], "--duration does not go with clients"),
            (["--no-mix"], "--no-mix leaves smoke without a load"),
        ] {
            let r = try Binary.run(["run", "workloads/smoke.json"] + args + ["--output", dir.file("never.json")])
            XCTAssertEqual(r.status, 2, "\(args): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(phrase), "\(args): \(r.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir.file("never.json")))
        }
    }

    /// A program whose working directory is on the mount keeps it through
    /// the eager strategy's storm: entries are expired, not unhashed (git
    /// failed with "Unable to read current working directory" when a
    /// directory's dentry was unhashed under it).
    func testTheWorkingDirectoryOfAProgramSurvivesTheEagerStorm() throws {
        let path = try workload([
            // At least 2 s (a pause per commit), so that several kills fall inside.
            ["name": "cwd", "run": "mkdir r && cd r && git init -q && for i in $(seq 40); do echo $i > f; git add f && "
                + "git -c user.name=a -c user.email=a@b commit -qm $i || exit 1; sleep 0.05; done",
             "verify": "cd r && git fsck --full && test \"$(git rev-list --count HEAD)\" = 40"],
        ], mix: false, faults: [["kind": "kill", "every": "0.3s"]])
        let (run, _) = try run([path, "--strategy", "handover-eager"])
        let c = try XCTUnwrap(run.clients?.first)
        XCTAssertGreaterThanOrEqual(c.faultsDuring, 2)
        XCTAssertTrue(c.passed, "\(c)")
        let storms = (run.restartedServers ?? []).map(\.revalidationNotifications)
        XCTAssertTrue(storms.contains { $0 > 0 }, "the storm ran: \(storms)")
    }

    /// The harness's own mount with allow_other and default_permissions: a
    /// client running as another user creates files it owns, and may chmod
    /// them, as on the backing file system.
    func testANonRootClientOwnsWhatItCreates() throws {
        let w: [String: Any] = [
            "name": "non-root", "warmup": 0,
            "fileset": ["dirs": 1, "filesPerDir": 1, "fileSize": "4KiB"],
            "server": ["allowOther": true, "defaultPermissions": true, "mountOptions": ["max_read=131072"]],
            "clients": [["name": "user", "setup": "chmod 777 . && chmod 755 {mountpoint} {mountpoint}/clients",
                         "run": "setpriv --reuid=60001 --regid=60001 --clear-groups sh -c "
                             + "'echo hi > mine && chmod 600 mine && mkdir d && ln -s mine l && grep -q max_read=131072 /proc/self/mounts'",
                         "verify": "test \"$(stat -c %u:%g:%a {backingdir}/mine)\" = 60001:60001:600 && "
                             + "test \"$(stat -c %u {backingdir}/d)\" = 60001"]],
        ]
        let path = dir.file("non-root.json")
        try JSONSerialization.data(withJSONObject: w).write(to: URL(fileURLWithPath: path))
        let (run, _) = try run([path])
        let c = try XCTUnwrap(run.clients?.first)
        XCTAssertTrue(c.passed, "\(c)")

        // A mount option the kernel does not know: exit 2, naming it.
        var bad = w
        bad["server"] = ["mountOptions": ["no_such_option"]]
        try JSONSerialization.data(withJSONObject: bad).write(to: URL(fileURLWithPath: path))
        let r = try Binary.run(["run", path, "--output", dir.file("never.json")])
        XCTAssertEqual(r.status, 2, r.stderr)
        XCTAssertTrue(r.stderr.contains("refused the mount options no_such_option"), r.stderr)
        XCTAssertTrue(Isolation.fuseMounts().isEmpty)
        bad["server"] = ["mountOptions": ["a,b"]]
        try JSONSerialization.data(withJSONObject: bad).write(to: URL(fileURLWithPath: path))
        let r2 = try Binary.run(["run", path, "--output", dir.file("never.json")])
        XCTAssertEqual(r2.status, 2, r2.stderr)
        XCTAssertTrue(r2.stderr.contains("server.mountOptions[0]"), r2.stderr)
    }
}
