// `fusebench validate`: checks workload files without running them.
import Workload
import ArgumentParser
import Supervisor

/// Checks workload files.
struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check workload files and print them with every default filled in."
    )

    @Argument(help: "Workload files.")
    var workloads: [String]

    func run() throws {
        for path in workloads {
            let points = try loadWorkloadPoints(path)
            let w = points[0]
            let sweep = points.count > 1 ? ", \(points.count) sweep points" : ""
            var what: [String] = []
            if let h = w.hazard { what.append("hazard scenario \(h.kind.rawValue)") }
            if w.hazard == nil && !w.load.mix.isEmpty { what.append(w.load.mix.map(\.op.rawValue).joined(separator: ", ")) }
            if !w.clients.isEmpty { what.append("clients " + w.clients.map(\.name).joined(separator: ", ")) }
            print("\(path): ok (\(w.name): \(what.joined(separator: "; "))\(sweep))")
        }
    }
}
