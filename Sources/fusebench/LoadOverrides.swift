// Options that override a workload's load settings from the command line,
// shared by `run` and `bench`.
import Workload
import ArgumentParser
import CFuseShim
import LoadGen
import Supervisor

/// Overrides applied on top of workload files.
struct LoadOverrides: ParsableArguments {
    @Option(help: "Measured seconds, overriding the workload (e.g. 2 or 500ms).")
    var duration: String?
    @Option(help: "Warm-up seconds, overriding the workload.")
    var warmup: String?
    @Option(help: "Client threads, overriding the workload.")
    var clientThreads: Int?
    @Option(name: .customLong("server-option"),
            help: ArgumentHelp("A reference-server option over the workload's, KEY=VALUE with a key of its "
                               + "\"server\" object (repeatable), e.g. passthrough=false.", valueName: "key=value"))
    var serverOption: [String] = []

    func validate() throws {
        if let d = duration, Units.seconds(d).map({ $0 >= 0.05 }) != true {
            throw ValidationError("--duration must be a duration of at least 50ms, such as 2 or 500ms; got \(d)")
        }
        if let w = warmup, Units.seconds(w) == nil {
            throw ValidationError("--warmup must be a duration such as 1 or 500ms; got \(w)")
        }
        if let t = clientThreads, !(1...256).contains(t) {
            throw ValidationError("--client-threads must be between 1 and 256; got \(t)")
        }
    }

    func apply(_ w: inout Workload) throws {
        if !serverOption.isEmpty {
            do {
                w.server = try ReferenceVariant("server-option:" + serverOption.joined(separator: ",")).apply(to: w.server)
            } catch let e as SupervisorError {
                throw CLIError.input("--server-option: \(e)")
            }
        }
        if let d = duration.flatMap(Units.seconds) { w.load.duration = d }
        if let s = warmup.flatMap(Units.seconds) { w.load.warmup = s }
        if let t = clientThreads { w.load.threads = t }
    }
}

/// Loads a workload file, mapping its errors to exit code 2.
func loadWorkload(_ path: String) throws -> Workload {
    do { return try Workload.load(path: path) } catch let e as WorkloadError {
        throw CLIError.input(e.description)
    }
}

/// Loads a workload file with its sweep expanded (one workload per point).
func loadWorkloadPoints(_ path: String) throws -> [Workload] {
    do { return try Workload.loadPoints(path: path) } catch let e as WorkloadError {
        throw CLIError.input(e.description)
    }
}

/// The harness prelude of `run` and `bench`: checks for FUSE and enters a
/// private mount namespace when a FUSE target is involved, installs the stop
/// signals, and runs `body` with a progress printer; supervisor errors map to
/// their exit codes.
func withHarness<T>(needsFuse: Bool, quiet: Bool, _ body: (ProgressPrinter) throws -> T) throws -> T {
    try mapped {
        if needsFuse {
            try HostCheck.requireFuse()
            try MountNamespace.enter()
        }
        fbshim_install_stop_signals()
        let printer = ProgressPrinter(quiet: quiet)
        defer { printer.clear() }
        return try body(printer)
    }
}

/// Maps supervisor errors to CLI errors with their exit codes.
func mapped<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let e as SupervisorError {
        switch e {
        case .environment(let m): throw CLIError.environment(m)
        case .failed(let m): throw CLIError.failed(m)
        case .input(let m): throw CLIError.input(m)
        case .watchdog(let m): throw CLIError.watchdog(m)
        case .interrupted: throw CLIError.interrupted
        }
    }
}
