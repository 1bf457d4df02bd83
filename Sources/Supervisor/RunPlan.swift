// The one plan of runs that both `run` and `bench` execute: which workload
// point runs on which target, with which restart strategy, as which trial,
// in which order. `run` repeats each point (and each strategy) on one
// target; `bench` rotates its targets from trial to trial, so that drift
// favours none.
import CFuseShim
import Foundation
import LoadGen
import ResultModel
import Workload

/// "45s", "3m20s", "1h05m".
func fmtDuration(_ s: Double) -> String {
    let t = Int(s.rounded())
    if t < 60 { return "\(t)s" }
    if t < 3600 { return "\(t / 60)m\(String(format: "%02d", t % 60))s" }
    return "\(t / 3600)h\(String(format: "%02d", t / 60 % 60))m"
}

/// One run to make.
public struct PlannedRun: Sendable {
    /// The workload (a sweep point, a variant), as it will run.
    public var workload: Workload
    /// Where.
    public var target: BenchTarget
    /// The restart strategy, when the workload injects faults or is a hazard scenario.
    public var strategy: Strategy?
    /// The trial number to record (nil: a single trial).
    public var trial: Int?

    /// "smoke on reference · handover-epoch · fileset.filesPerDir=1000 · trial 2".
    public var label: String {
        "\(workload.name) on " + [target.name, strategy?.rawValue,
                                   workload.sweepPoint.map { "\($0.field)=\($0.value.compact)" },
                                   trial.map { "trial \($0)" }].compactMap { $0 }.joined(separator: " · ")
    }
}

/// Building and executing plans.
public enum RunPlan {
    /// `run`: every point, trial and strategy on one target; a hazard
    /// scenario without a list of strategies runs with every strategy (that
    /// the target can be restarted with), and another server only with the
    /// scenarios that apply to it.
    public static func forRun(_ points: [Workload], target: BenchTarget, repeats: Int) -> [PlannedRun] {
        points.flatMap { point -> [PlannedRun] in
            let trials = (0..<repeats).map { repeats > 1 ? $0 : nil }
            if let hazard = point.hazard {
                if target.target == .external && !HazardKind.forOtherServers.contains(hazard.kind) { return [] }
                let strategies = !point.strategies.isEmpty ? point.strategies
                    : target.target == .external ? ExternalMount.strategies : Strategy.allCases
                return strategies.flatMap { s in
                    trials.map { PlannedRun(workload: point, target: target, strategy: s, trial: $0) }
                }
            }
            let strategies: [Strategy?] = point.strategies.isEmpty ? [nil] : point.strategies
            return trials.flatMap { trial in
                strategies.map { PlannedRun(workload: point, target: target, strategy: $0, trial: trial) }
            }
        }
    }

    /// `bench`: `repeats` trials of one workload on every target, rotating
    /// which target goes first; variants get their server options here.
    public static func forBench(_ workload: Workload, targets: [BenchTarget], repeats: Int) throws -> [PlannedRun] {
        try (0..<repeats).flatMap { i -> [PlannedRun] in
            let k = i % targets.count
            return try (targets[k...] + targets[..<k]).map { t in
                var w = workload
                if let v = t.variant { w.server = try v.apply(to: workload.server) }
                return PlannedRun(workload: w, target: t, strategy: nil, trial: i)
            }
        }
    }

    /// Executes `plan` in order; `directory` for the directory target.
    public static func execute(_ plan: [PlannedRun], directory: String? = nil, executable: String,
                               reporter: RunReporter) throws -> [RunResult] {
        let started = Date()
        var results: [RunResult] = []
        // A fileset kept between runs leaves with the last of them.
        defer { FilesetCache.shared.clear() }
        for (i, p) in plan.enumerated() {
            if plan.count > 1 {
                // Where we are, and about how long the rest takes: the mean
                // time of the runs so far, or before any, their plan.
                var left: Double?
                if i > 0 {
                    left = Date().timeIntervalSince(started) / Double(i) * Double(plan.count - i)
                } else if plan.allSatisfy({ $0.workload.clients.isEmpty && $0.workload.hazard == nil }) {
                    left = plan.map { (p: PlannedRun) -> Double in p.workload.load.warmup + p.workload.load.duration + 1 }
                        .reduce(0, +)
                }
                reporter.phase("run \(i + 1) of \(plan.count): \(p.label)"
                               + (left.map { ", about \(fmtDuration($0)) left" } ?? ""))
            }
            var r: RunResult
            if p.workload.hazard != nil {
                guard p.target.target == .reference || p.target.target == .external, let s = p.strategy else {
                    throw SupervisorError.input("\(p.workload.name) is a hazard scenario: it restarts a server, so "
                                                + "the target must be reference or another server (--server)")
                }
                r = try HazardRunner.run(p.workload, strategy: s, peer: p.target.peer, executable: executable,
                                         reporter: reporter)
            } else {
                if let sp = p.workload.sweepPoint { reporter.phase("sweep \(sp.field) = \(sp.value.compact)") }
                r = try RunCoordinator.run(p.workload, target: p.target.target, strategy: p.strategy,
                                           peer: p.target.peer, directory: directory, executable: executable,
                                           reporter: reporter)
                r.target = p.target.name
            }
            if let t = p.trial { r.trial = t }
            results.append(r)
            // Interrupted: no further run; the caller writes what there is.
            if r.partial == true || fbshim_stop_requested() != 0 { break }
        }
        return results
    }
}
