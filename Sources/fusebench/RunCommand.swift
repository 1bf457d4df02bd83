// `fusebench run`: one workload on one target, a JSON result and a summary.
import ArgumentParser
import CFuseShim
import Foundation
import LoadGen
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
        output.
        """
    )

    @Argument(help: "Workload file (see workloads/README.md).")
    var workload: String

    @Option(help: "reference (the FUSE server) or native (the backing directory, no FUSE).")
    var target: Target = .reference

    @OptionGroup var overrides: LoadOverrides

    @OptionGroup var out: ResultOutput

    func run() throws {
        var w = try loadWorkload(workload)
        overrides.apply(&w)
        let runResult: RunResult = try mapped {
            if target == .reference {
                try HostCheck.requireFuse()
                try MountNamespace.enter()
            }
            fbshim_install_stop_signals()
            let printer = ProgressPrinter(quiet: out.quiet)
            defer { printer.clear() }
            return try RunCoordinator.run(w, target: target, executable: ToolInfo.executable, reporter: printer)
        }
        let doc = ResultDocument(kind: "run", tool: ToolInfo.identity, command: CommandLine.arguments,
                                 environment: .current(), runs: [runResult])
        try out.publish(doc, stem: "\(w.name)-\(target.rawValue)")
    }
}


extension Target: ExpressibleByArgument {}
