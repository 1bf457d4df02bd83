// Hazard scenarios: a scripted probe around one restart of the reference
// server (or one per operation, for resent requests), on a real mount,
// measured and checked against the outcome the workload file expects.
//
// Every file the probes use starts with a line naming it
// ("fusebench-hazard file 17"), so a read that returns another file's data
// is recognised as such. Every step that touches the mount runs under the
// watchdog: a probe that hangs aborts the connection and fails the run.

/// Runs hazard scenarios.
import Workload
import CFuseShim
import Foundation
import Contract
import FuseServer
import Glibc
import ResultModel

/// Runs hazard scenarios.
public enum HazardRunner {
    /// Runs the scenario `workload` with `strategy`, on the reference
    /// server or on `peer`.
    public static func run(_ workload: Workload, strategy: Strategy, peer: PeerServer? = nil, executable: String,
                           reporter: RunReporter) throws -> RunResult {
        guard let hazard = workload.hazard else { throw SupervisorError.input("\(workload.name) is not a hazard scenario") }
        let scratch = try ScratchSpace()
        defer { scratch.remove() }
        let backing = try scratch.directory("backing")
        if peer != nil {
            guard let kind = workload.hazard?.kind, HazardKind.forOtherServers.contains(kind) else {
                throw SupervisorError.input("the hazard scenario \(workload.name) measures the reference server's own "
                                            + "features; another server takes "
                                            + HazardKind.forOtherServers.map(\.rawValue).joined(separator: ", "))
            }
        } else if (strategy.forcedNodeIds ?? workload.server.nodeIds) != .ephemeral {
            try requireHandles(backing)
        }
        let mnt = try scratch.directory("mnt")
        let files = try makeFiles(backing, count: hazard.files)
        reporter.phase("scenario \(workload.name) with \(strategy.rawValue) (\(files.count) files)")
        let mount: RestartableMount = try peer.map {
            try ExternalMount(peer: $0, source: backing, mountpoint: mnt, options: workload.server, dir: scratch.path,
                              executable: executable, strategy: strategy)
        } ?? FuseMount(source: backing, mountpoint: mnt, options: workload.server, dir: scratch.path,
                       executable: executable, strategy: strategy)
        let target = peer?.name ?? "reference"
        defer { mount.unmount(timeout: 10) }
        let probe = Probe(mount: mount, backing: backing, mnt: mnt, files: files)
        let started = Date()
        let t0 = fbshim_monotonic_ns()
        var figures: [HazardFigure: Double] = [:]
        var inconclusive: String?
        var hung: String?
        var died: String?
        do {
            switch hazard.kind {
            case .inodeReuse: (figures, inconclusive) = try probe.inodeReuse()
            case .staleAttributes: figures = try probe.staleAttributes()
            case .resentNonIdempotent: (figures, inconclusive) = try probe.resentNonIdempotent()
            case .ephemeralIds: figures = try probe.ephemeralIds()
            case .openFiles: figures = try probe.openFiles()
            case .heldDescriptors: figures = try probe.heldDescriptors()
            case .staleCaches: figures = try probe.staleCaches()
            case .passthroughReopen: figures = try probe.passthroughReopen()
            }
        } catch SupervisorError.watchdog(let why) {
            // A scenario that hangs is a verdict, not the end of the matrix:
            // the watchdog aborted the connection; the next scenario gets a
            // mount of its own.
            hung = why.components(separatedBy: " Server log:").first ?? why
            if workload.server.ioUring && strategy.keepsConnection { hung! += " " + Self.ioUringResendNote }
        } catch let d as ProbeDeath {
            died = d.why
        }
        probe.stopWatching()
        if died == nil, let why = probe.diedOnItsOwn.withLock({ $0 }) { died = why }
        let elapsed = Double(fbshim_monotonic_ns() - t0) / 1e9
        let status = mount.unmount(timeout: 10)
        let reports = mount.serverReports()
        if hung == nil && died == nil, let status, status != 0 {
            throw SupervisorError.failed("\(mount.serverName) \(mount.server.describe(status)) at unmount. "
                                         + "Its log:\n\(mount.server.logTail())")
        }
        let scenario: ScenarioResult
        if hung != nil || died != nil {
            let figure = died != nil ? "died" : "hung"
            var failed = ScenarioResult(hazard: hazard.kind.rawValue, expectation: hazard.expectation,
                                        checks: [ScenarioCheck(figure: figure, measured: 1, maximum: 0)],
                                        figures: [figure: 1])
            failed.hung = hung
            failed.died = died
            scenario = failed
        } else {
            // What only the reference server counts is not checked on another.
            let unchecked: Set<HazardFigure> = peer != nil ? [.unknownNodeIds] : []
            figures = figures.filter { hazard.kind.figures.contains($0.key) && !unchecked.contains($0.key) }
            let checks = try hazard.expect.filter { !unchecked.contains($0.key) }.sorted { $0.key.rawValue < $1.key.rawValue }
                .map { figure, maximum in
                    // A figure the probe did not measure fails loudly: it must never read as 0 and pass.
                    guard let measured = figures[figure] else {
                        throw SupervisorError.failed("the \(hazard.kind.rawValue) probe measured no \(figure.rawValue)")
                    }
                    return ScenarioCheck(figure: figure.rawValue, measured: measured, maximum: maximum)
                }
            scenario = ScenarioResult(hazard: hazard.kind.rawValue, expectation: hazard.expectation, checks: checks,
                                      figures: Dictionary(uniqueKeysWithValues: figures.map { ($0.key.rawValue, $0.value) }),
                                      inconclusive: inconclusive)
        }
        let empty = OperationResult(count: 0, throughput: .opsPerSecond(0), bandwidth: .bytesPerSecond(0),
                                    latency: .empty, errors: [:])
        var result = RunResult(target: target, workload: workload.asRun, startedAt: ISO8601.string(started),
                               measuredSeconds: elapsed, threads: 1, operations: [:], total: empty,
                               timeline: Timeline(bucketMs: 10, completed: [], errors: []), server: reports.first)
        result.strategy = strategy.rawValue
        if reports.count > 1 { result.restartedServers = Array(reports.dropFirst()) }
        result.scenario = scenario
        return result
    }

    /// Why a request in flight at the crash hangs with FUSE over io_uring
    /// (kernel 6.18), for messages.
    static let ioUringResendNote = "With FUSE over io_uring, a request the dead server had taken from its ring "
        + "is never resent: FUSE_NOTIFY_RESEND requeues only the /dev/fuse processing queues (fs/fuse/dev.c, "
        + "fuse_resend, which walks fc->devices), and at the server's exit its idle ring entries are parked, "
        + "not torn down (fs/fuse/dev_uring.c, fuse_uring_cancel); the request's caller waits until the "
        + "connection is aborted."

    /// Creates `count` stamped files under `root/h/dNN/`; returns their
    /// paths relative to `root`.
    static func makeFiles(_ root: String, count: Int) throws -> [String] {
        let perDir = 100
        var paths: [String] = []
        for i in 0..<count {
            let dir = String(format: "h/d%03d", i / perDir)
            if i % perDir == 0 { try FileManager.default.createDirectory(atPath: "\(root)/\(dir)", withIntermediateDirectories: true) }
            let rel = String(format: "%@/f%05d", dir, i)
            guard FileManager.default.createFile(atPath: "\(root)/\(rel)", contents: Data(stamp("file \(i)"))) else {
                throw SupervisorError.failed("cannot create \(root)/\(rel)")
            }
            paths.append(rel)
        }
        return paths
    }

    /// A 4 KiB file body whose first line names it.
    static func stamp(_ id: String) -> [UInt8] {
        var b = Array("fusebench-hazard \(id)\n".utf8)
        b += [UInt8](repeating: UInt8(ascii: "."), count: 4096 - b.count)
        return b
    }

    /// The name in a file body's first line, or nil.
    static func identity(_ bytes: ArraySlice<UInt8>) -> String? {
        guard let nl = bytes.firstIndex(of: 10) else { return nil }
        let line = String(decoding: bytes[bytes.startIndex..<nl], as: UTF8.self)
        guard line.hasPrefix("fusebench-hazard ") else { return nil }
        return String(line.dropFirst("fusebench-hazard ".count))
    }
}
