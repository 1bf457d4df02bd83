// `fusebench scorecard`: a server's restart readiness on one card. The
// mixed load of crash-compare.json (a kill every second) with every strategy the server can
// be restarted with, the hazard scenarios that apply, the real programs of
// clients.json, and the verdict computed from them (ResultModel.Scorecard).
import ArgumentParser
import Foundation
import ResultModel
import Supervisor
import Workload

struct ScorecardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scorecard",
        abstract: "Rate a FUSE server's restart readiness: every applicable strategy, the hazard scenarios, a verdict.",
        discussion: """
            Without --server it rates the reference server with its eight strategies; with --server \
            'NAME=COMMAND' (the placeholders of run --server, plus {instance}, {state} and {keeper}) another server with \
            remount, handover-lazy, handover-epoch and handover-state (README: "Your own server"). Writes the card as JSON \
            (kind "scorecard": the runs, the hazard matrix and the card), prints it as a table, and with --html \
            writes it as a page. Exit 0 when the card is written, whatever it says.
            """)

    @Option(help: "The server to rate: '[NAME=]COMMAND' with {source} and {mountpoint} (default: the reference server).")
    var server: String?

    @Option(help: "Directory holding crash-compare.json, hazards/*.json and clients.json.")
    var workloads = "workloads"

    @Option(help: "Seconds of the mixed load per strategy (crash-compare's faults: a kill every second).")
    var duration: Double = 6

    @Flag(inversion: .prefixedNo,
          help: "Run the real programs of clients.json under each strategy (a minute or more per strategy).")
    var clients = true

    @Option(help: "Also write the card as an HTML page here.")
    var html: String?

    @OptionGroup var out: ResultOutput

    func validate() throws {
        guard duration > 2 && duration <= 3600 else {
            throw ValidationError("--duration must be above 2 and at most 3600 seconds (a kill every second: "
                                  + "two faults at least)")
        }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: workloads + "/hazards", isDirectory: &isDir), isDir.boolValue,
              FileManager.default.fileExists(atPath: workloads + "/crash-compare.json") else {
            throw ValidationError("--workloads \(workloads): no crash-compare.json and hazards/ there; give the "
                                  + "repository's workloads directory")
        }
        if clients && !FileManager.default.fileExists(atPath: workloads + "/clients.json") {
            throw ValidationError("--workloads \(workloads): no clients.json there; give it, or --no-clients")
        }
    }

    func run() throws {
        let peer: PeerServer?
        do { peer = try server.map(PeerServer.init) } catch let e as SupervisorError { throw CLIError.input("\(e)") }
        let strategies = peer != nil ? ExternalMount.strategies : Strategy.allCases
        var points: [Workload] = []
        // The strategy runs: the mixed load with crash-compare's faults (a
        // SIGKILL every second: time for a warm standby between them).
        for var w in try loadWorkloadPoints(workloads + "/crash-compare.json") {
            w.load.duration = duration
            w.strategies = strategies
            points.append(w)
        }
        let scenarioFiles = ((try? FileManager.default.contentsOfDirectory(atPath: workloads + "/hazards")) ?? [])
            .filter { $0.hasSuffix(".json") }.sorted()
        for f in scenarioFiles {
            for var w in try loadWorkloadPoints(workloads + "/hazards/" + f) {
                w.strategies = strategies
                points.append(w)
            }
        }
        if clients {
            for var w in try loadWorkloadPoints(workloads + "/clients.json") {
                w.strategies = strategies
                points.append(w)
            }
        }
        let target = peer != nil ? Target.external : Target.reference
        let plan = RunPlan.forRun(points, target: BenchTarget(target, peer: peer), repeats: 1)
        let runs = try withHarness(needsFuse: true, quiet: out.quiet) { printer in
            try RunPlan.execute(plan, directory: nil, executable: ToolInfo.executable, reporter: printer)
        }
        var doc = ResultDocument(kind: "scorecard", tool: ToolInfo.identity, command: CommandLine.arguments,
                                 environment: .current(), runs: runs)
        let name = peer?.name ?? "reference"
        doc.scorecard = Scorecard(server: name, command: peer?.template, runs: runs)
        try out.publish(doc, stem: "scorecard-\(name)")
        if let html {
            let page = HTMLReport.render(doc, title: "fusebench scorecard: \(name)")
            do { try page.write(toFile: html, atomically: true, encoding: .utf8) } catch {
                throw CLIError.failed("cannot write \(html): \(error.localizedDescription)")
            }
            writeStderr("fusebench: wrote \(html)\n")
        }
    }
}
