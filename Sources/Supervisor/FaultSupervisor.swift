// The thread that injects faults into a running server and restarts it as
// the strategy says, timing each step on the monotonic clock that the
// server's stats region and the load threads share.
import Workload
import CFuseShim
import Foundation
import Contract
import FuseServer
import Glibc
import LoadGen
import ResultModel
import Synchronization

/// One fault to inject: which spec, and when (seconds into the measured
/// phase; nil for a request-count trigger).
struct ScheduledFault {
    let index: Int
    let spec: FaultSpec
    let at: Double?
}

/// Server-side timings of one fault, kept until the client side is merged.
struct FaultTiming {
    var event: FaultEvent
    var faultNs: UInt64 = 0
    /// The new server's first reply (0: none, or no restart).
    var firstReplyNs: UInt64 = 0
    /// When the harness knew of the death (its own kill, the crash hook's
    /// notice, or the exit).
    var noticedNs: UInt64 = 0
}

/// A trace line on standard error when $FUSEBENCH_DEBUG is set.
func debugTrace(_ text: @autoclosure () -> String) {
    guard Settings.debug else { return }
    writeStderr(String(format: "[%.6f] ", Double(fbshim_monotonic_ns()) / 1e9) + text() + "\n")
}

/// Injects the schedule into `mount` while the load runs.
/// Unchecked Sendable: its mutable state (timings, failure, samples) is
/// written only by the fault thread that runs `run()`, and read by the run
/// thread only after that thread signalled its end; `finished` is atomic.
final class FaultSupervisor: @unchecked Sendable {
    let mount: RestartableMount
    let control: LoadControl
    let schedule: [ScheduledFault]
    let phases: Phases
    /// Fileset files under the mount, for revalidation sweeps.
    let files: [String]
    let finished = Atomic<Bool>(false)
    private(set) var timings: [FaultTiming] = []
    private(set) var failure: SupervisorError?
    /// Set when the run was given up: the server kept dying after restarts.
    private(set) var abandoned: String?
    private struct Abandon: Error {}
    private var samples: [(ns: UInt64, counts: [String: UInt64])] = []

    /// Window for revalidation counts and recovery.
    static let windowNs = FaultWindow.ns
    /// How long after a restart the harness waits for a client's request to
    /// reach the new server before it asks the server itself.
    static let probeAfterNs: UInt64 = 1_000_000

    /// Deaths the harness did not cause (a server that crashes after it
    /// resumed), restarted as the strategy says; past this many in a row
    /// without a planned fault between them, the run ends with a verdict.
    static let unplannedDeathLimit = 3
    private var unplannedInARow = 0
    private var nextUnplannedIndex: Int

    init(mount: RestartableMount, control: LoadControl, faults: [FaultSpec], phases: Phases, duration: Double,
         files: [String]) {
        self.mount = mount
        self.files = files
        self.control = control
        self.phases = phases
        var list: [ScheduledFault] = []
        var i = 0
        for f in faults {
            if let times = f.times(duration: duration) {
                for t in times { list.append(ScheduledFault(index: 0, spec: f, at: t)) }
            } else {
                list.append(ScheduledFault(index: 0, spec: f, at: nil))
            }
        }
        list.sort { ($0.at ?? -1) < ($1.at ?? -1) }
        nextUnplannedIndex = list.count
        schedule = list.map { s in
            defer { i += 1 }
            return ScheduledFault(index: i, spec: s.spec, at: s.at)
        }
    }

    /// The thread body.
    func run() {
        do { try mount.prepareStandby() } catch {
            failure = error as? SupervisorError ?? .failed("\(error)")
            control.stop()
            return
        }
        for (n, item) in schedule.enumerated() {
            let nextDue = n + 1 < schedule.count ? schedule[n + 1].at.map { phases.measureStart + UInt64($0 * 1e9) } : nil
            do {
                if item.at != nil || item.spec.trigger == .afterRequests(0) {
                    let due = phases.measureStart + UInt64((item.at ?? 0) * 1e9)
                    guard try sleepSampling(until: due) else { return }
                } else {
                    guard try sleepSampling(until: phases.measureStart) else { return }
                }
                try inject(item, nextDue: nextDue ?? phases.end)
                unplannedInARow = 0
            } catch is Abandon {
                return giveUp()
            } catch let e as SupervisorError {
                failure = e
                mount.abortConnection()
                control.stop()
                return
            } catch {
                failure = .failed("\(error)")
                control.stop()
                return
            }
        }
        // After the last fault: a server that dies on its own is still restarted.
        do { _ = try sleepSampling(until: .max) } catch is Abandon {
            giveUp()
        } catch let e as SupervisorError {
            failure = e
            mount.abortConnection()
            control.stop()
        } catch {
            failure = .failed("\(error)")
            control.stop()
        }
    }

    /// Ends the load of a run given up: callers waiting on the dead
    /// connection get an error at once.
    private func giveUp() {
        debugTrace("giving up: \(abandoned ?? "")")
        mount.abortConnection()
        control.stop()
    }

    /// Sleeps until `ns`, sampling the server's counters every 20 ms, and
    /// restarting a server that died on its own; false when the run ended
    /// first.
    private func sleepSampling(until ns: UInt64) throws -> Bool {
        while true {
            if finished.load(ordering: .relaxed) || control.stopFlag.load(ordering: .relaxed) { return false }
            if let status = mount.server.poll() { try unplannedDeath(status) }
            let now = fbshim_monotonic_ns()
            if now >= ns { return true }
            samples.append((now, mount.stats.opcodeCounts()))
            if samples.count > 200 { samples.removeFirst(samples.count - 100) }
            // Until the next sample, or the server's death (its pidfd, or the
            // notice of a crash hook), whichever comes first.
            let server = mount.server
            if server.waitForDeathOrNotice(timeoutNs: min(20_000_000, ns - now)) && server.poll() == nil {
                // A notice: the server is dying; its exit follows at once.
                try unplannedDeath(server.waitForExit() ?? -1)
            }
        }
    }

    private func inject(_ item: ScheduledFault, nextDue: UInt64) throws {
        let old = mount.stats
        let server = mount.server
        var t = FaultTiming(event: FaultEvent(index: item.index, kind: item.spec.kind.name, detail: nil, atSeconds: 0))
        var restart = true
        switch item.spec.kind {
        case .kill:
            if case .afterRequests(let n) = item.spec.trigger {
                t.event.detail = "after \(n) requests"
                try mount.prepareHandover()
                old.armKill(afterRequests: n)
                guard awaitArmedDeath(&t, server, old, until: phases.end) else { return }
            } else {
                // Made ready while the server still serves: the standby
                // pinned to this CPU with its "ready" taken, the server's
                // threads moved off it. The fault is the SIGKILL.
                try mount.prepareHandover()
                server.moveDyingThreads()
                t.faultNs = fbshim_monotonic_ns()
                control.markFault(item.index, at: t.faultNs)
                debugTrace("fault \(item.index): SIGKILL to \(server.pid)")
                server.signal(SIGKILL)
                // The restart waits for what its strategy needs of the
                // dying process: its exit, or only its threads' leaving the device.
                t.noticedNs = t.faultNs
            }
        case .crashInOp(let op, let phase):
            t.event.detail = "\(op.name) \(phase.name)"
            try mount.prepareHandover()
            old.armCrash(op, phase: phase)
            guard awaitArmedDeath(&t, server, old, until: min(nextDue, phases.end)) else { return }
        case .hang(let seconds, let then):
            t.event.detail = String(format: "%.3g s then %@", seconds, then.rawValue)
            t.faultNs = fbshim_monotonic_ns()
            control.markFault(item.index, at: t.faultNs)
            server.signal(SIGSTOP)
            usleep(UInt32(seconds * 1e6))
            if then == .resume {
                server.signal(SIGCONT)
                restart = false
            } else {
                server.signal(SIGKILL)
                t.noticedNs = fbshim_monotonic_ns()
            }
        }
        try recover(t, old: old, restart: restart, nextDue: nextDue)
    }

    /// The server died without a fault of ours (it crashed, or exited, on
    /// its own: typically a server that resumed a connection it cannot
    /// serve): counted as a fault event of kind "death" and restarted as
    /// the strategy says; too many in a row end the run.
    private func unplannedDeath(_ status: Int32) throws {
        let server = mount.server
        let how = server.describe(status)
        unplannedInARow += 1
        debugTrace("unplanned death \(unplannedInARow): \(how)")
        guard unplannedInARow <= Self.unplannedDeathLimit else {
            abandoned = "\(mount.serverName) \(how) on its own after each of \(unplannedInARow) restarts in a row "
                + "(\(mount.strategy?.rawValue ?? "no strategy")): it cannot serve this connection after a restart"
            throw Abandon()
        }
        var t = FaultTiming(event: FaultEvent(index: nextUnplannedIndex, kind: "death", detail: how, atSeconds: 0))
        nextUnplannedIndex += 1
        t.faultNs = fbshim_monotonic_ns()
        t.noticedNs = t.faultNs
        try recover(t, old: mount.stats, restart: true, nextDue: phases.end)
    }

    /// After the fault of `t`: restarts (unless `restart` is false), times
    /// the new server's first reply and the revalidation, and records it.
    private func recover(_ t: FaultTiming, old: StatsRegion, restart: Bool, nextDue: UInt64) throws {
        var t = t
        let item = (index: t.event.index, spec: schedule.first { $0.index == t.event.index }?.spec)
        control.markFault(item.index, at: t.faultNs)
        t.event.triggered = true
        t.event.atSeconds = Double(t.faultNs - min(t.faultNs, phases.measureStart)) / 1e9
        // The requests of the second before the fault are counted after the
        // restart, off the handover's path (the dead server counts no more).
        defer { samples.removeAll() }

        guard restart else {
            t.firstReplyNs = fbshim_monotonic_ns()
            t.event.outageToServerReply = .nanoseconds(t.firstReplyNs - t.faultNs)
            return record(t, triggered: true)
        }
        guard mount.strategy != nil else {
            throw SupervisorError.failed("the server died (\(t.event.kind)) and the run has no restart strategy")
        }
        debugTrace("fault \(item.index): restarting (\(mount.strategy!.rawValue))")
        do { try mount.restart() } catch SupervisorError.failed(let why) where mount.strategy?.keepsConnection == true {
            // The new instance died before it served: as a death after a
            // restart (counted, restarted again, or the run given up).
            guard let status = mount.server.poll() else { throw SupervisorError.failed(why) }
            debugTrace("fault \(item.index): the new server died before serving")
            record(t, triggered: true)
            try unplannedDeath(status)
            return
        }
        debugTrace("fault \(item.index): server \(mount.server.pid) ready")
        let windowStart = t.faultNs - min(t.faultNs, Self.windowNs)
        let before = samples.last { $0.ns <= windowStart }?.counts ?? [:]
        let requestsBefore = Self.increase(old.opcodeCounts(), since: before)
        t.event.restarted = true
        let fresh = mount.stats
        // The new server's first reply: resent or new requests arrive at once
        // when clients are waiting; give up after 5 s (a loaded machine can
        // take more than a second to schedule the new server). A load the
        // kernel answers from its caches (stat with long timeouts), or a
        // fault near the end, may send none: then, 1 ms after the restart,
        // the harness asks the server itself (STATFS, which the kernel never
        // caches), so that the outage is not the time until the next request.
        let restartedNs = fbshim_monotonic_ns()
        let replyDeadline = restartedNs + 5 * Self.windowNs
        var asked = false
        while fresh.firstReplyNs == 0 && fbshim_monotonic_ns() < replyDeadline && mount.server.poll() == nil {
            if !asked && fbshim_monotonic_ns() - restartedNs >= Self.probeAfterNs {
                // On a thread of its own: a server that never answers must
                // not hang the supervisor (the unmount ends the call).
                asked = true
                let path = mount.mountpoint
                Thread.detachNewThread {
                    var sv = statvfs()
                    _ = statvfs(path, &sv)
                }
            }
            usleep(100)
        }
        if fresh.firstReplyNs != 0 {
            t.firstReplyNs = fresh.firstReplyNs
            t.event.outageToServerReply = .nanoseconds(fresh.firstReplyNs - t.faultNs)
        }
        let marks = mount.lastHandover
        if marks.resendNs != 0 {
            func since(_ ns: UInt64) -> Metric? { ns == 0 ? nil : .nanoseconds(ns - min(ns, t.faultNs)) }
            t.event.handover = HandoverTimeline(
                deathNoticed: .nanoseconds(max(t.noticedNs, t.faultNs) - t.faultNs),
                threadsOut: since(marks.threadsOutNs) ?? .nanoseconds(0),
                resendSent: since(marks.resendNs) ?? .nanoseconds(0), goSent: since(marks.goNs),
                gatePassed: since(fresh.goNs), firstRequestRead: since(fresh.firstRequestNs),
                firstReply: since(fresh.firstReplyNs))
        }
        if item.spec?.revalidate == true {
            // Until every file cached before the fault is usable again. The
            // requests are counted from the new server's start: the load's
            // own operations may revalidate some files before the sweep does.
            let t0 = fbshim_monotonic_ns()
            // An eager storm invalidates entries while the server already
            // serves: a file is usable again once its invalidation is sent
            // and it is looked up anew, so the sweep waits for the storm.
            if mount.strategy?.eagerRevalidation == true {
                let limit = t0 + UInt64(Settings.watchdogSeconds * 1e9)
                while !fresh.entryRevalidationDone && fbshim_monotonic_ns() < limit { usleep(200) }
            }
            var st = stat()
            for f in files { _ = lstat(f, &st) }
            t.event.revalidationSweep = .nanoseconds(fbshim_monotonic_ns() - t0)
            t.event.revalidationSweepRequests = Self.increase(fresh.opcodeCounts(), since: [:])
        }
        let now = fbshim_monotonic_ns()
        // The window ends before the next fault by the standby's start-up
        // (a Swift process that maps its libraries and handles the saved
        // INIT: tens of ms), so that the next fault finds it at its gate.
        let lead: UInt64 = 80_000_000
        let windowEnd = min(now + Self.windowNs, max(nextDue > lead ? nextDue - lead : 0, now))
        let windowLength = Double(windowEnd - now) / 1e9
        do { _ = try sleepSampling(until: windowEnd) } catch {
            // The server died again within the window (and the run may be
            // given up): this restart is recorded as far as it got.
            record(t, triggered: true)
            throw error
        }
        // The next standby, after the measurement window: its start-up
        // takes CPU that would otherwise show up as a dip after the restart.
        if !finished.load(ordering: .relaxed) {
            do { try mount.prepareStandby() } catch {
                throw error as? SupervisorError ?? .failed("cannot start a standby server: \(error)")
            }
        }
        let report = fresh.report()
        t.event.resentRequests = report.resentRequests
        t.event.resentAnomalies = report.resentAnomalies
        t.event.resentRecognised = report.resentRecognised
        t.event.resentOwn = report.resentOwn
        // Once the window is over the resent requests are long answered.
        if t.event.handover != nil, case let ns = fresh.resentRepliedNs, ns != 0 {
            let answered = Metric.nanoseconds(ns - min(ns, t.faultNs))
            t.event.handover?.resentAnswered = answered
        }
        t.event.reopenedHandles = report.reopenedHandles
        t.event.refusedHandles = report.refusedHandles
        t.event.unknownNodeIds = report.unknownNodeIds
        t.event.revalidation = RevalidationCost(
            windowSeconds: min(FaultWindow.seconds, max(0, windowLength)), requestsBefore: requestsBefore,
            requestsAfter: fresh.opcodeCounts(),
            serverTime: .nanoseconds(report.revalidationNs + report.entryRevalidationNs),
            notifications: report.revalidationNotifications)
        record(t, triggered: true)
    }

    private func record(_ t: FaultTiming, triggered: Bool) {
        var t = t
        t.event.triggered = triggered
        timings.append(t)
    }

    /// Per opcode, how much `now` grew since `before` (opcodes that did not are left out).
    static func increase(_ now: [String: UInt64], since before: [String: UInt64]) -> [String: UInt64] {
        now.reduce(into: [:]) { acc, kv in
            let d = kv.value - min(kv.value, before[kv.key] ?? 0)
            if d > 0 { acc[kv.key] = d }
        }
    }

    /// Waits for the server to die on its own (an armed hook); false if it
    /// is still alive at `deadline` or the run ended.
    /// After arming a hook in `old`: waits for the death it causes, and
    /// times it (the hook's own time, else when the harness heard of it);
    /// false, the hook disarmed and the fault recorded as not triggered,
    /// when it did not come before `deadline`.
    private func awaitArmedDeath(_ t: inout FaultTiming, _ server: ServerProcess, _ old: StatsRegion,
                                 until deadline: UInt64) -> Bool {
        guard waitForDeath(server, until: deadline) else {
            old.disarm()
            record(t, triggered: false)
            return false
        }
        t.noticedNs = fbshim_monotonic_ns()
        t.faultNs = old.crashNs != 0 ? min(old.crashNs, t.noticedNs) : t.noticedNs
        return true
    }

    /// Its death notice (a crash hook about to kill it) counts as the death.
    private func waitForDeath(_ server: ServerProcess, until deadline: UInt64) -> Bool {
        while case let now = fbshim_monotonic_ns(), now < deadline, !finished.load(ordering: .relaxed) {
            // Woken by the death itself; at least every 20 ms for the end of the run.
            if server.waitForDeathOrNotice(timeoutNs: min(20_000_000, deadline - now)) {
                server.moveDyingThreads()
                return true
            }
        }
        return server.waitForDeathOrNotice(timeoutNs: 0)
    }
}
