// `fusebench bench`: the standard workloads on native, the reference server
// and peer servers, interleaved, with ratios, in one JSON.
import Workload
import Contract
import ArgumentParser
import CFuseShim
import ResultModel
import Supervisor

/// Benchmarks the reference server against native.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Run workloads on the reference server, natively and on peer servers, interleaved, and report ratios.",
        discussion: """
        Every workload (in each --cache-modes and --thread-counts variant) runs --repeat times on every \
        target, rotating which target goes first. Ratios: each target against native, and the reference \
        server against each peer (throughput above 1.0 and latency below 1.0 favour the reference server), and each \
        --variant against the reference server (above 1.0 the changed options help).
        """
    )

    @Argument(help: "Workload files (default: the standard set in workloads/).")
    var workloads: [String] = ["metadata", "metadata-cached", "seqread", "seqwrite", "smallfiles", "randread",
                               "readdir-large", "mixed"].map { "workloads/\($0).json" }

    @Option(help: ArgumentHelp("""
        A peer server to compare against, '[NAME=]COMMAND' with {source}, {mountpoint}, {threads}, {timeout}, \
        {cache} (repeatable; see run --server).
        """, valueName: "command"))
    var peer: [String] = []

    @Option(help: ArgumentHelp("""
        The reference server with some server options changed, as a target of its own, \
        'NAME:KEY=VALUE[,KEY=VALUE...]' with keys of a workload's "server" object \
        (repeatable; ratio NAME/reference), e.g. 'splice:splice=true'.
        """, valueName: "variant"))
    var variant: [String] = []

    @Option(help: ArgumentHelp("Cache modes, comma-separated: workload (as the file says), off, on.",
                               valueName: "modes"))
    var cacheModes = "workload"

    @Option(help: ArgumentHelp("Client thread counts, comma-separated (default: as the file says).", valueName: "n,m"))
    var threadCounts: String?

    @Flag(help: "Also run the null target (the load generator without system calls: its own cost).")
    var null = false

    @Option(name: .customLong("repeat"), help: "Repetitions per workload and target (targets alternate).")
    var repeat_: Int = 3

    @OptionGroup var overrides: LoadOverrides

    @OptionGroup var out: ResultOutput

    func validate() throws {
        guard (1...50).contains(repeat_) else { throw ValidationError("--repeat must be between 1 and 50") }
        _ = try modes()
        _ = try threads()
    }

    func modes() throws -> [CacheMode] {
        try cacheModes.split(separator: ",").map { m in
            guard let mode = CacheMode(rawValue: String(m)) else {
                throw ValidationError("--cache-modes: unknown mode \"\(m)\"; expected workload, off or on")
            }
            return mode
        }
    }

    func threads() throws -> [Int?] {
        guard let threadCounts else { return [nil] }
        return try threadCounts.split(separator: ",").map { t in
            guard let n = Int(t), (1...256).contains(n) else {
                throw ValidationError("--thread-counts: expected numbers between 1 and 256, got \"\(t)\"")
            }
            return n
        }
    }

    func run() throws {
        let ws = try workloads.map { path -> Workload in
            var w = try loadWorkload(path)
            try overrides.apply(&w)
            return w
        }
        let peers: [PeerServer]
        do { peers = try peer.map(PeerServer.init) } catch let e as SupervisorError { throw CLIError.input("\(e)") }
        let refVariants: [ReferenceVariant]
        do { refVariants = try variant.map(ReferenceVariant.init) } catch let e as SupervisorError { throw CLIError.input("\(e)") }
        let targets = [BenchTarget(.native), BenchTarget(.reference)] + peers.map { BenchTarget(.external, peer: $0) }
            + refVariants.map { BenchTarget(variant: $0) } + (null ? [BenchTarget(.null)] : [])
        let names = targets.map(\.name)
        if let dup = names.first(where: { n in names.filter { $0 == n }.count > 1 }) {
            throw CLIError.input("two targets are named \"\(dup)\"; give each --peer and --variant its own NAME")
        }
        let variants = BenchPlan.variants(ws, cacheModes: try modes(), clientThreads: try threads())
        let (runs, comparisons) = try withHarness(needsFuse: true, quiet: out.quiet) { printer in
            try BenchPlan.run(variants, targets: targets, repeats: repeat_, executable: ToolInfo.executable,
                              reporter: printer)
        }
        let doc = ResultDocument(kind: "bench", tool: ToolInfo.identity, command: CommandLine.arguments,
                                 environment: .current(), runs: runs, comparisons: comparisons)
        try out.publish(doc, stem: "bench")
    }
}
