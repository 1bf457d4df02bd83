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
        crash-in-op:op=WRITE,phase=after,at=1s, hang:at=1s,for=500ms,then=resume (repeatable); \
        none: no faults (the workload's are dropped, and so are its strategies).
        """, valueName: "spec"))
    var fault: [String] = []

    @Option(help: ArgumentHelp("""
        A real program as a client, replacing the workload's clients: '[NAME=]COMMAND', run by /bin/sh in \
        the client's own directory on the mount, with {mountpoint}, {backing}, {dir}, {backingdir}, \
        {scratch}, {name} (repeatable). The measured phase lasts until the last client exits; with \
        --no-mix, the clients are the whole load.
        """, valueName: "command"))
    var client: [String] = []

    @Option(help: ArgumentHelp("Seconds a --client may run before it is killed and reported.", valueName: "seconds"))
    var clientTimeout: Double = 300

    @Flag(help: "Drop the workload's synthetic mix: its clients (or --client) are the whole load.")
    var noMix = false

    @Flag(help: """
        First run each workload natively (the backing directory, no FUSE, no faults), as a column of its own \
        beside the strategies: the time each client takes without FUSE.
        """)
    var nativeBaseline = false

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
        guard clientTimeout > 0 && clientTimeout <= 86400 else {
            throw ValidationError("--client-timeout must be between 0 and 86400 seconds")
        }
        if fault.contains("none") && fault.count > 1 {
            throw ValidationError("--fault none means no faults: it does not go with other --fault specs")
        }
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
        let clients: [ClientSpec]?
        do {
            faults = fault.isEmpty ? nil : fault == ["none"] ? [] : try fault.map(FaultSpec.parse)
            clients = client.isEmpty ? nil
                : try client.enumerated().map { try ClientSpec.parse($1, index: $0, timeout: clientTimeout) }
        } catch let e as WorkloadError {
            throw CLIError.input(e.description)
        }
        for i in points.indices {
            try overrides.apply(&points[i])
            if let faults {
                points[i].faults = faults
                if faults.isEmpty && points[i].hazard == nil { points[i].strategies = [] }
            }
            if let clients {
                guard points[i].hazard == nil else {
                    throw CLIError.input("\(points[i].name) is a hazard scenario: it takes no --client")
                }
                points[i].clients = clients
            }
            if !points[i].clients.isEmpty && overrides.duration != nil {
                throw CLIError.input("--duration does not go with clients (\(points[i].name)): the measured phase "
                                     + "lasts until the last client exits; bound clients with --client-timeout "
                                     + "or their \"timeout\"")
            }
            if noMix {
                guard !points[i].clients.isEmpty else {
                    throw CLIError.input("--no-mix leaves \(points[i].name) without a load: give clients (--client)")
                }
                points[i].load.mix = []
                points[i].load.threads = 0
            }
            if let strategy {
                points[i].strategies = strategy.split(separator: ",").compactMap { Strategy(rawValue: String($0)) }
            }
        }
        if target == .external && strategy == nil {
            // A workload's strategies beyond what another server can be
            // restarted with are left out (--strategy names them explicitly).
            for i in points.indices {
                points[i].strategies = points[i].strategies.filter { ExternalMount.strategies.contains($0) }
            }
        }
        let w = points[0]
        var plan = RunPlan.forRun(points, target: BenchTarget(target, peer: peer), repeats: repeat_)
        if nativeBaseline {
            guard points.allSatisfy({ $0.hazard == nil }) else {
                throw CLIError.input("--native-baseline does not go with hazard scenarios: they need the reference server")
            }
            let natives = points.map { p -> Workload in
                var n = p
                n.faults = []
                n.strategies = []
                return n
            }
            plan = RunPlan.forRun(natives, target: BenchTarget(.native, peer: nil), repeats: repeat_) + plan
        }
        if target != .reference && target != .external, let scenario = points.first(where: { $0.hazard != nil }) {
            throw CLIError.input("\(scenario.name) is a hazard scenario: it restarts a server, so the target must "
                                 + "be reference or another server (--server)")
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
