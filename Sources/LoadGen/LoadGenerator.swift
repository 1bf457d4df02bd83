// Runs a LoadSpec against a directory with N threads, reports progress,
// and merges the threads' measurements into result types.
import Contract
import CFuseShim
import Foundation
import Glibc
import Histogram
import ResultModel

/// What a progress callback is told.
public struct LoadProgress: Sendable {
    /// "warm-up" or "measure".
    public var phase: String
    /// Seconds into the phase.
    public var elapsed: Double
    /// Length of the phase in seconds.
    public var phaseLength: Double
    /// Operations completed so far (all phases).
    public var ops: UInt64
    /// Operations failed so far.
    public var errors: UInt64
    /// With real-program clients (whose lifetime is the measured phase):
    /// how many are still running, of how many.
    public var clients: (running: Int, total: Int)?
}

/// The merged measurements of a load run.
public struct LoadResult: Sendable {
    /// When the measured phase began.
    public var measureStartedAt: Date
    /// Measured seconds (shorter than asked when stopped early).
    public var measuredSeconds: Double
    /// Per operation kind, by name.
    public var operations: [String: OperationResult]
    /// All operations together.
    public var total: OperationResult
    /// Throughput over time.
    public var timeline: Timeline
    /// True when stopped before the planned end.
    public var stoppedEarly: Bool
    /// Monotonic time (ns) at which the measured phase started.
    public var measureStartNs: UInt64
    /// Client-side measurements around each fault, by fault index.
    public var faults: [Int: ClientFaultView]
    /// What each thread wrote, to verify after the run.
    public var ledgers: [WriteLedger]
    /// Operations issued in every phase (warm-up included), failed ones
    /// too, by kind: what the server's requests are accounted against.
    public var issued: [String: UInt64]
    /// Bytes those operations read or wrote.
    public var issuedBytes: UInt64
}

/// What the clients saw around one fault.
public struct ClientFaultView: Sendable {
    /// Operations in flight at the fault.
    public var inFlight: UInt64
    /// Longest operation in flight at the fault (its kind's name), start and
    /// end in monotonic ns; nil when none was in flight.
    public var longest: (operation: String, start: UInt64, end: UInt64)?
    /// Its duration (the client stall).
    public var stallNs: UInt64 { longest.map { $0.end - $0.start } ?? 0 }
    /// Longest time from the fault to the end of an operation in flight at it.
    public var waitNs: UInt64 = 0
    /// Completion times (monotonic ns) of the successful operations that
    /// were in flight at the fault.
    public var resumedNs: [UInt64]
    /// Slow operations (1 ms or more) that started after the fault: start
    /// and end in monotonic ns, and the operation.
    public var slowAfter: [(start: UInt64, end: UInt64, operation: String)]
    /// Latency of operations completing within 1 s after the fault.
    public var latencyAfter: LatencyDistribution
    /// Failed operations within 1 s after the fault, by operation and errno name.
    public var errorsAfter: [String: [String: UInt64]]
}

/// Drives load against a directory.
public final class LoadGenerator: Sendable {
    /// The load.
    public let spec: LoadSpec
    /// The fileset on the target.
    public let fileset: Fileset
    /// Stop flag and progress.
    public let control: LoadControl

    /// Width of the timeline's buckets.
    public let bucketNs: UInt64

    /// A generator for `spec` against the fileset under `root` (`null`:
    /// no system calls, to measure the generator itself), its timeline in
    /// buckets of `bucketNs`.
    public init(spec: LoadSpec, root: String, null: Bool = false, bucketNs: UInt64 = Phases.bucketNs) {
        self.spec = spec
        self.bucketNs = bucketNs
        fileset = Fileset(spec: spec.fileset, root: root)
        control = LoadControl(threads: spec.threads, null: null)
    }

    /// Runs the load; calls `progress` about ten times a second on the
    /// calling thread, and `onStart` once with the phases, before the
    /// threads start.
    public func run(progress: ((LoadProgress) -> Void)? = nil, onStart: ((Phases) -> Void)? = nil) -> LoadResult {
        let files = fileset.allFiles()
        let measuredNs = UInt64(spec.duration * 1e9)
        let buckets = Int((measuredNs + bucketNs - 1) / bucketNs)
        let workers = (0..<spec.threads).map {
            LoadWorker(index: $0, spec: spec, fileset: fileset, files: files, control: control, buckets: buckets)
        }
        let start = fbshim_monotonic_ns() + 20_000_000
        let phases = Phases(start: start, measureStart: start + UInt64(spec.warmup * 1e9),
                            end: start + UInt64(spec.warmup * 1e9) + measuredNs, bucketNs: bucketNs)
        let measureWallStart = Date().addingTimeInterval(Double(phases.measureStart - fbshim_monotonic_ns()) / 1e9)
        onStart?(phases)
        let done = DispatchGroup()
        for w in workers {
            done.enter()
            let t = Thread {
                w.run(phases)
                w.closeHeld()
                done.leave()
            }
            t.name = "load-\(w.index)"
            t.start()
        }
        // Without threads (real programs only) the phase lasts until a stop.
        while done.wait(timeout: .now() + .milliseconds(100)) == .timedOut
                || (workers.isEmpty && !control.stopFlag.load(ordering: .relaxed) && fbshim_stop_requested() == 0
                    && fbshim_monotonic_ns() < phases.end) {
            let now = fbshim_monotonic_ns()
            guard let progress else { continue }
            let measuring = now >= phases.measureStart
            progress(LoadProgress(
                phase: measuring ? "measure" : "warm-up",
                elapsed: Double(now - (measuring ? phases.measureStart : min(now, phases.start))) / 1e9,
                phaseLength: measuring ? spec.duration : spec.warmup,
                ops: control.totalOps, errors: control.totalErrors))
        }
        let finished = fbshim_monotonic_ns()
        let measured: Double
        let stoppedEarly: Bool
        if spec.operations != nil {
            // The phase ended when the last thread finished its operations.
            let last = min(workers.map(\.lastEnd).max() ?? finished, phases.end)
            measured = Double(last > phases.measureStart ? last - phases.measureStart : 0) / 1e9
            stoppedEarly = control.stopFlag.load(ordering: .relaxed) || fbshim_stop_requested() != 0
        } else {
            stoppedEarly = finished < phases.end
            measured = stoppedEarly ? Double(finished > phases.measureStart ? finished - phases.measureStart : 0) / 1e9
                                    : spec.duration
        }
        return merge(workers, measuredSeconds: measured, wallStart: measureWallStart,
                     stoppedEarly: stoppedEarly, measureStartNs: phases.measureStart)
    }

    private func merge(_ workers: [LoadWorker], measuredSeconds: Double, wallStart: Date,
                       stoppedEarly: Bool, measureStartNs: UInt64) -> LoadResult {
        var operations: [String: OperationResult] = [:]
        var totalHist: Histogram<UInt64>?
        var totalCount: UInt64 = 0
        var totalBytes: UInt64 = 0
        var totalErrors: [String: UInt64] = [:]
        let secs = max(measuredSeconds, 1e-9)
        for kind in OpKind.allCases {
            var merged = OpTally()
            for w in workers {
                let t = w.tallies[kind.index]
                guard t.count > 0 || !t.errors.isEmpty else { continue }
                if let h = t.histogram {
                    if merged.histogram == nil { merged.histogram = h } else { merged.histogram!.add(h) }
                }
                merged.count += t.count
                merged.bytes += t.bytes
                merged.errors.merge(t.errors, uniquingKeysWith: +)
            }
            guard merged.count > 0 || !merged.errors.isEmpty else { continue }
            let errors = Dictionary(merged.errors.map { (errnoName($0.key), $0.value) }, uniquingKeysWith: +)
            operations[kind.rawValue] = OperationResult(
                count: merged.count, throughput: .opsPerSecond(Double(merged.count) / secs),
                bandwidth: .bytesPerSecond(Double(merged.bytes) / secs),
                latency: merged.histogram.map { LatencyDistribution($0) } ?? .empty,
                errors: errors, seconds: secs)
            if let h = merged.histogram {
                if totalHist == nil { totalHist = h } else { totalHist!.add(h) }
            }
            totalCount += merged.count
            totalBytes += merged.bytes
            totalErrors.merge(errors, uniquingKeysWith: +)
        }
        let total = OperationResult(
            count: totalCount, throughput: .opsPerSecond(Double(totalCount) / secs),
            bandwidth: .bytesPerSecond(Double(totalBytes) / secs),
            latency: totalHist.map { LatencyDistribution($0) } ?? .empty, errors: totalErrors, seconds: secs)
        let used = max(1, Int((measuredSeconds * 1e9 / Double(bucketNs)).rounded(.up)))
        var completed = [UInt64](repeating: 0, count: workers.first?.completed.count ?? 0)
        var failed = completed
        for w in workers {
            for i in completed.indices {
                completed[i] += w.completed[i]
                failed[i] += w.failed[i]
            }
        }
        let n = min(used, completed.count)
        var faults: [Int: ClientFaultView] = [:]
        for index in Set(workers.flatMap { $0.faults.keys }) {
            var merged = FaultTally()
            for w in workers {
                guard let f = w.faults[index] else { continue }
                merged.spanning += f.spanning
                if let l = f.longest, merged.longest == nil || f.stallNs > merged.stallNs { merged.longest = l }
                merged.waitNs = max(merged.waitNs, f.waitNs)
                merged.resumed += f.resumed
                merged.slowAfter += f.slowAfter
                if let h = f.window {
                    if merged.window == nil { merged.window = h } else { merged.window!.add(h) }
                }
                for (op, errs) in f.errors { merged.errors[op, default: [:]].merge(errs, uniquingKeysWith: +) }
            }
            faults[index] = ClientFaultView(
                inFlight: merged.spanning,
                longest: merged.longest.map { (operation: $0.kind.rawValue, start: $0.start, end: $0.end) },
                waitNs: merged.waitNs,
                resumedNs: merged.resumed.sorted(),
                slowAfter: merged.slowAfter.map { (start: $0.start, end: $0.end, operation: $0.kind.rawValue) },
                latencyAfter: merged.window.map { LatencyDistribution($0) } ?? .empty,
                errorsAfter: Dictionary(uniqueKeysWithValues: merged.errors.map { op, errs in
                    (op.rawValue, Dictionary(errs.map { (errnoName($0.key), $0.value) }, uniquingKeysWith: +))
                }))
        }
        return LoadResult(
            measureStartedAt: wallStart, measuredSeconds: measuredSeconds, operations: operations, total: total,
            timeline: Timeline(bucketMs: Int(bucketNs / 1_000_000), completed: Array(completed.prefix(n)),
                               errors: Array(failed.prefix(n))),
            stoppedEarly: stoppedEarly, measureStartNs: measureStartNs, faults: faults,
            ledgers: workers.map(\.ledger),
            issued: Dictionary(uniqueKeysWithValues: OpKind.allCases.compactMap { k in
                let n = workers.reduce(0) { $0 + $1.issued[k.index] }
                return n > 0 ? (k.rawValue, n) : nil
            }),
            issuedBytes: workers.reduce(0) { $0 + $1.issuedBytes })
    }
}
