// Real programs as the load. Each client is a shell command, started by the
// harness inside the run's mount namespace with its working directory on
// the mount: its setup before the measured phase, its run during it (under
// the faults), its verify after it, while the mount is still there. Each
// step runs in a process group of its own, so that a step killed at its
// timeout takes its children with it, and so does the harness's death
// (setpriv --pdeathsig). The mount stays until every client has exited.
import Workload
import CFuseShim
import Foundation
import Contract
import Glibc
import ResultModel
import Synchronization

/// The clients of one run.
final class ClientRunner: @unchecked Sendable {
    /// One client's directories and steps so far.
    struct Slot {
        let spec: ClientSpec
        let backing: String
        /// Its directory, relative to the root of the load.
        let relative: String
        /// Its scratch directory, outside the mount.
        let scratch: String
        /// The root of the load (the mountpoint; the backing directory natively).
        var root = ""
        var setup: ClientStep?
        var run: ClientStep?
        var verify: ClientStep?
        var startNs: UInt64 = 0
        var endNs: UInt64 = 0

        /// Its working directory.
        var dir: String { "\(root)/\(relative)" }

        /// The placeholders' values.
        var values: [String: String] {
            ["mountpoint": root, "backing": backing, "dir": dir, "backingdir": "\(backing)/\(relative)",
             "scratch": scratch, "name": spec.name]
        }
    }

    /// A step that was started.
    private struct Started {
        let index: Int
        let command: String
        let pid: pid_t
        let startNs: UInt64
        let deadline: UInt64
    }

    private(set) var slots: [Slot]
    /// Set when a run step must end now (the run is stopping).
    private let abandon = Atomic(false)
    /// Run steps still running.
    let running = Atomic(0)
    /// How many clients there are.
    let count: Int

    /// Prepares each client's directory under `backing` (seen at
    /// `root`/clients/NAME through the mount) and its scratch directory.
    init(_ specs: [ClientSpec], backing: String, scratch: String) throws {
        count = specs.count
        slots = try specs.map { c in
            let slot = Slot(spec: c, backing: backing, relative: "clients/\(c.name)", scratch: "\(scratch)/\(c.name)")
            for d in ["\(backing)/\(slot.relative)", slot.scratch] {
                try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
            }
            return slot
        }
    }

    /// Sets where the load runs (the mountpoint, or the backing directory).
    func mounted(at root: String) {
        for i in slots.indices { slots[i].root = root }
    }

    /// Runs every setup, one after the other; false when one failed.
    func setupAll(reporter: RunReporter) -> Bool {
        for i in slots.indices {
            guard let cmd = slots[i].spec.setup else { continue }
            reporter.phase("client \(slots[i].spec.name): setup")
            slots[i].setup = step("setup", cmd, i)
        }
        return slots.allSatisfy { $0.setup?.succeeded ?? true }
    }

    /// Starts every client whose setup succeeded, at `startNs`, and waits
    /// for all of them (killing each at its timeout). Call on a thread of
    /// its own: the clients die with it (their parent-death signal).
    func runAll(at startNs: UInt64) {
        while fbshim_monotonic_ns() < startNs && !abandon.load(ordering: .relaxed) { usleep(1000) }
        var started: [Started] = []
        for i in slots.indices where slots[i].setup?.succeeded ?? true && !abandon.load(ordering: .relaxed) {
            switch start("run", slots[i].spec.run, i) {
            case .left(let st):
                slots[i].startNs = st.startNs
                started.append(st)
                running.add(1, ordering: .relaxed)
            case .right(let failed):
                slots[i].run = failed
                slots[i].startNs = fbshim_monotonic_ns()
                slots[i].endNs = slots[i].startNs
            }
        }
        wait(started, step: "run", stopNow: { self.abandon.load(ordering: .relaxed) }) { st, result, end in
            slots[st.index].endNs = end
            slots[st.index].run = result
            running.subtract(1, ordering: .relaxed)
        }
    }

    /// Makes a running `runAll` kill its clients and return.
    func stop() { abandon.store(true, ordering: .relaxed) }

    /// Runs the verify step of every client whose run succeeded.
    func verifyAll(reporter: RunReporter) {
        for i in slots.indices where slots[i].run?.succeeded == true {
            guard let cmd = slots[i].spec.verify else { continue }
            reporter.phase("client \(slots[i].spec.name): verify")
            slots[i].verify = step("verify", cmd, i)
        }
    }

    /// The results; `faults` and `measureStartNs` place the faults.
    func results(faults: [FaultEvent], measureStartNs: UInt64) -> [ClientResult] {
        slots.map { s in
            let start = Double(s.startNs - min(s.startNs, measureStartNs)) / 1e9
            let end = Double(s.endNs - min(s.endNs, measureStartNs)) / 1e9
            let during = s.run == nil ? 0 : faults.filter { $0.triggered && $0.atSeconds >= start && $0.atSeconds <= end }.count
            return ClientResult(name: s.spec.name, setup: s.setup, run: s.run, verify: s.verify,
                                startSeconds: start, faultsDuring: during)
        }
    }

    // MARK: - Processes

    private enum Either<L, R> { case left(L), right(R) }

    /// Starts step `step` of client `i` (the command before its
    /// placeholders are replaced); one that cannot start is a failed step.
    private func start(_ step: String, _ template: String, _ i: Int) -> Either<Started, ClientStep> {
        let cmd = ClientSpec.expand(template, slots[i].values)
        let t0 = fbshim_monotonic_ns()
        do {
            let pid = try spawn(cmd, slots[i], step: step)
            return .left(Started(index: i, command: cmd, pid: pid, startNs: t0,
                                 deadline: t0 + UInt64(slots[i].spec.timeout * 1e9)))
        } catch {
            return .right(ClientStep(command: cmd, exitStatus: 127, signal: nil, timedOut: false, seconds: 0,
                                     stderrTail: "\(error)"))
        }
    }

    /// Waits for every started step, killing each at its deadline, and all
    /// of them when `stopNow` or a stop signal says so; `done` gets each
    /// one's outcome and end time as it exits.
    private func wait(_ started: [Started], step: String, stopNow: () -> Bool,
                      done: (Started, ClientStep, UInt64) -> Void) {
        var left = started
        while !left.isEmpty {
            let now = fbshim_monotonic_ns()
            let stopping = stopNow() || fbshim_stop_requested() != 0
            left.removeAll { st in
                let late = now >= st.deadline
                guard let status = reap(st.pid, killIfRunning: late || stopping) else { return false }
                let end = fbshim_monotonic_ns()
                done(st, finished(st.command, status: status, timedOut: late, seconds: Double(end - st.startNs) / 1e9,
                                  slot: slots[st.index], step: step), end)
                return true
            }
            if !left.isEmpty { usleep(5000) }
        }
    }

    /// Runs step `step` of client `i` to its end (or its timeout).
    private func step(_ step: String, _ template: String, _ i: Int) -> ClientStep {
        switch start(step, template, i) {
        case .right(let failed): return failed
        case .left(let st):
            var outcome: ClientStep?
            wait([st], step: step, stopNow: { false }) { _, result, _ in outcome = result }
            return outcome!
        }
    }

    private func finished(_ cmd: String, status: Int32, timedOut: Bool, seconds: Double, slot: Slot,
                          step: String) -> ClientStep {
        let sig = status & 0x7f
        let text = (try? String(contentsOfFile: "\(slot.scratch)/\(step).err", encoding: .utf8)) ?? ""
        var tail = text.split(separator: "\n", omittingEmptySubsequences: true).suffix(20).joined(separator: "\n")
        if tail.count > 2000 { tail = String(tail.suffix(2000)) }
        return ClientStep(command: cmd, exitStatus: sig == 0 ? Int((status >> 8) & 0xff) : nil,
                          signal: sig == 0 ? nil : Int(sig), timedOut: timedOut, seconds: seconds, stderrTail: tail)
    }

    /// The wait status once `pid` has exited (after ending whatever is left
    /// of its process group), or nil while it runs; with `killIfRunning`,
    /// kills its group first and waits.
    private func reap(_ pid: pid_t, killIfRunning: Bool) -> Int32? {
        var status: Int32 = 0
        var r = waitpid(pid, &status, WNOHANG)
        if r == 0 && killIfRunning {
            kill(-pid, SIGKILL)
            repeat { r = waitpid(pid, &status, 0) } while r < 0 && errno == EINTR
        }
        guard r == pid else { return r < 0 ? -1 : nil }
        // Children the step left behind hold the mount: end them too.
        kill(-pid, SIGKILL)
        return status
    }

    /// `/bin/sh -c command` in the client's directory, in a process group
    /// of its own (leader: the returned pid), stdout and stderr in the
    /// client's scratch directory, killed if the harness dies.
    private func spawn(_ command: String, _ slot: Slot, step: String) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "\(slot.scratch)/\(step).out", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, "\(slot.scratch)/\(step).err", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fbshim_spawn_closefrom(&actions, 3) == 0, fbshim_spawn_chdir(&actions, slot.dir) == 0 else {
            throw SupervisorError.failed("posix_spawn file actions failed")
        }
        var attr = posix_spawnattr_t()
        ServerProcess.initOwnGroupAttributes(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        let setpriv = "/usr/bin/setpriv"
        let argv = access(setpriv, X_OK) == 0 ? [setpriv, "--pdeathsig", "KILL", "--", "/bin/sh", "-c", command]
                                               : ["/bin/sh", "-c", command]
        var env = ProcessInfo.processInfo.environment
        env["FUSEBENCH_CLIENT"] = slot.spec.name
        env["FUSEBENCH_MOUNTPOINT"] = slot.root
        env["FUSEBENCH_BACKING"] = slot.backing
        env["FUSEBENCH_CLIENT_DIR"] = slot.dir
        env["FUSEBENCH_CLIENT_SCRATCH"] = slot.scratch
        env["PWD"] = slot.dir
        var cargs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        var cenv: [UnsafeMutablePointer<CChar>?] = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for p in cargs + cenv { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, &attr, &cargs, &cenv)
        guard rc == 0 else { throw SupervisorError.failed("cannot start \(argv[0]): \(String(cString: strerror(rc)))") }
        return pid
    }
}
