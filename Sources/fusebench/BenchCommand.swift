// `fusebench bench`: the standard workloads on reference and native,
// interleaved, with ratios, in one JSON.
import ArgumentParser
import CFuseShim
import ResultModel
import Supervisor

/// Benchmarks the reference server against native.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Run workloads on the reference server and natively, interleaved, and report ratios."
    )

    @Argument(help: "Workload files (default: the standard set in workloads/).")
    var workloads: [String] = ["metadata", "seqread", "seqwrite", "smallfiles", "mixed"].map { "workloads/\($0).json" }

    @Option(name: .customLong("repeat"), help: "Repetitions per workload and target (targets alternate).")
    var repeat_: Int = 3

    @OptionGroup var overrides: LoadOverrides

    @OptionGroup var out: ResultOutput

    func validate() throws {
        guard (1...50).contains(repeat_) else { throw ValidationError("--repeat must be between 1 and 50") }
    }

    func run() throws {
        let ws = try workloads.map { path -> Workload in
            var w = try loadWorkload(path)
            overrides.apply(&w)
            return w
        }
        let (runs, comparisons) = try withHarness(needsFuse: true, quiet: out.quiet) { printer in
            try BenchPlan.run(ws, repeats: repeat_, executable: ToolInfo.executable, reporter: printer)
        }
        let doc = ResultDocument(kind: "bench", tool: ToolInfo.identity, command: CommandLine.arguments,
                                 environment: .current(), runs: runs, comparisons: comparisons)
        try out.publish(doc, stem: "bench")
    }
}
