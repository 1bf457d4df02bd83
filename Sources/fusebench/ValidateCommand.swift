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
            print("\(path): ok (\(w.name): \(w.load.mix.map(\.op.rawValue).joined(separator: ", "))\(sweep))")
        }
    }
}
