// `fusebench run`: workloads on one target, one JSON result and a summary.
import Workload
import ArgumentParser
import CFuseShim
import Foundation
import LoadGen
import Contract
import FuseServer
import ResultModel
import Supervisor

/// Runs a workload.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a workload against the reference FUSE server (or natively) and write a JSON result.",
        discussion: """
        Builds the workload's fileset in a scratch directory, mounts the reference server over it in a \
        private mount namespace, runs the load, unmounts and writes the result to --output (default: \
        results/<workload>-<target>-<time>.json). Progress goes to standard error, the summary to standard \
        output. Several workload files (the hazard scenarios, say) go into one result, side by side.
        """
    )

    @Argument(help: "Workload files (see workloads/README.md).")
    var workloads: [String]

    @Option(help: """
        reference (our FUSE server), native (the backing directory, no FUSE), external (the server of \
        --server), null (no file system: the load generator's own cost) or directory (--directory).
        """)
    var target: Target = .reference

    @Option(help: ArgumentHelp("""
        Run against this existing directory (a file system mounted by someone else, say): the fileset is \
        built in a subdirectory and removed afterwards. Implies --target directory.
        """, valueName: "path"))
    var directory: String?

    @Option(help: ArgumentHelp("""
        Another FUSE server to run the workload against, as a command that stays in the foreground: \
        '[NAME=]COMMAND' with {source}, {mountpoint}, {threads}, {timeout}, {cache}. Implies --target external.
        """, valueName: "command"))
    var server: String?

    @Option(help: ArgumentHelp("Restart strategies, comma-separated: one run each, side by side.",
                               valueName: "a,b,..."))
    var strategy: String?

    @Option(help: ArgumentHelp("""
        A fault, replacing the workload's: kill:at=2s, kill:every=2s, kill:after=20000, \
        crash-in-op:op=WRITE,phase=after,at=1s, hang:at=1s,for=500ms,then=resume (repeatable).
        """, valueName: "spec"))
    var fault: [String] = []

    @Option(name: .customLong("repeat"), help: "Trials: run everything this many times (for the gate's statistics).")
    var repeat_: Int = 1

    @OptionGroup var overrides: LoadOverrides

    @OptionGroup var out: ResultOutput

    func validate() throws {
        if server != nil && target != .reference && target != .external {
            throw ValidationError("--server runs an external server: it does not go with --target \(target.rawValue)")
        }
        if directory != nil && (server != nil || (target != .reference && target != .directory)) {
            throw ValidationError("--directory runs against an existing directory: it does not go with --server "
                                  + "or --target \(target.rawValue)")
        }
        if target == .directory && directory == nil {
            throw ValidationError("--target directory needs --directory PATH")
        }
        if target == .external && server == nil {
            throw ValidationError("--target external needs --server 'COMMAND {source} {mountpoint}'")
        }
        guard !workloads.isEmpty else { throw ValidationError("give a workload file, such as workloads/smoke.json") }
        guard (1...100).contains(repeat_) else { throw ValidationError("--repeat must be between 1 and 100") }
        if let strategy {
            for name in strategy.split(separator: ",") where Strategy(rawValue: String(name)) == nil {
                throw ValidationError("--strategy: unknown strategy \"\(name)\"; expected: \(Strategy.names)")
            }
        }
    }

    func run() throws {
        let peer: PeerServer?
        do { peer = try server.map(PeerServer.init) } catch let e as SupervisorError { throw CLIError.input("\(e)") }
        let target = peer != nil ? Target.external : directory != nil ? Target.directory : self.target
        var points = try workloads.flatMap(loadWorkloadPoints)
        let faults: [FaultSpec]?
        do { faults = fault.isEmpty ? nil : try fault.map(FaultSpec.parse) } catch let e as WorkloadError {
            throw CLIError.input(e.description)
        }
        for i in points.indices {
            overrides.apply(&points[i])
            if let faults { points[i].faults = faults }
            if let strategy {
                points[i].strategies = strategy.split(separator: ",").compactMap { Strategy(rawValue: String($0)) }
            }
        }
        let w = points[0]
        let plan = RunPlan.forRun(points, target: BenchTarget(target, peer: peer), repeats: repeat_)
        if target != .reference, let scenario = points.first(where: { $0.hazard != nil }) {
            throw CLIError.input("\(scenario.name) is a hazard scenario: it restarts the reference server, "
                                 + "so --target must be reference")
        }
        let runs = try withHarness(needsFuse: target == .reference || target == .external, quiet: out.quiet) { printer in
            try RunPlan.execute(plan, directory: directory, executable: ToolInfo.executable, reporter: printer)
        }
        let doc = ResultDocument(kind: "run", tool: ToolInfo.identity, command: CommandLine.arguments,
                                 environment: .current(), runs: runs)
        let names = Set(points.map(\.name))
        let stem = names.count == 1 ? w.name : points.allSatisfy { $0.hazard != nil } ? "hazards" : "workloads"
        try out.publish(doc, stem: "\(stem)-\(peer?.name ?? target.rawValue)")
    }
}


extension Target: ExpressibleByArgument {}
