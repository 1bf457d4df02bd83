// `fusebench list`: what there is to run and measure: workload files,
// restart strategies, fault kinds, client operations, hazard scenarios,
// and the metrics of a result (the names `gate --threshold` takes).
import Workload
import ArgumentParser
import Foundation
import LoadGen
import ResultModel

/// Lists workloads, strategies, faults, operations and metrics.
struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List workloads, strategies, faults, operations, or the metrics of a result.",
        discussion: """
        Without a section, every section but metrics. `fusebench list metrics RESULT.json` lists the metric \
        names of a result, with their kind (time, exact, errors), as compare, gate and the exports use them.
        """
    )

    enum Section: String, ExpressibleByArgument, CaseIterable {
        case workloads, strategies, faults, operations, metrics
    }

    @Argument(help: "workloads, strategies, faults, operations or metrics (metrics needs a result file).")
    var section: Section?

    @Argument(help: "The result file whose metrics to list.")
    var result: String?

    @Option(help: ArgumentHelp("Where the workload files are.", valueName: "dir"))
    var workloadDir = "workloads"

    func validate() throws {
        if section == .metrics && result == nil {
            throw ValidationError("list metrics needs a result file: fusebench list metrics results/x.json")
        }
        if result != nil && section != .metrics {
            throw ValidationError("a result file goes with `list metrics` only")
        }
    }

    func run() throws {
        let sections = section.map { [$0] } ?? [.workloads, .strategies, .faults, .operations]
        var out = ""
        for s in sections {
            switch s {
            case .workloads: out += try workloads()
            case .strategies:
                out += "strategies (--strategy; README \"Crash injection and restart strategies\"):\n"
                for st in Strategy.allCases {
                    out += "  " + Summary.pad(st.rawValue, 22) + st.summary + "\n"
                        + "  " + Summary.pad("", 22) + "(" + st.parts.description + ")\n"
                }
            case .faults:
                out += """
                    faults (--fault; times from the start of the measured phase):
                      kill:at=2s                       SIGKILL of the server at 2 s
                      kill:every=2s                    SIGKILL every 2 s
                      kill:after=20000                 the server kills itself at its 20000th request
                      crash-in-op:op=WRITE,phase=after,at=1s
                                                       the server aborts in its next WRITE (before|after the work)
                      hang:at=1s,for=500ms,then=resume SIGSTOP for 500 ms, then SIGCONT (resume) or SIGKILL (kill)
                      none                             no faults (the workload's are dropped)

                    """
            case .operations:
                out += "operations (\"mix\" in a workload; workloads/README.md):\n"
                out += "  " + OpKind.allCases.map(\.rawValue).joined(separator: ", ") + "\n"
            case .metrics:
                let doc = try readResult(result!, role: "result")
                let series = MetricSeries.extract(doc).values.sorted { $0.name < $1.name }
                out += "metrics of \(result!) (\(series.count)):\n"
                for m in series { out += "  " + Summary.pad(m.kind.rawValue, 8) + m.name + " (\(m.unit))\n" }
            }
            out += "\n"
        }
        print(out, terminator: "")
    }

    /// The workload files under `workloadDir`, with their descriptions.
    func workloads() throws -> String {
        let fm = FileManager.default
        guard let names = try? fm.contentsOfDirectory(atPath: workloadDir) else {
            throw CLIError.input("cannot read \(workloadDir): give --workload-dir, the directory of the workload files")
        }
        var files = names.filter { $0.hasSuffix(".json") }.sorted().map { "\(workloadDir)/\($0)" }
        if let hazards = try? fm.contentsOfDirectory(atPath: "\(workloadDir)/hazards") {
            files += hazards.filter { $0.hasSuffix(".json") }.sorted().map { "\(workloadDir)/hazards/\($0)" }
        }
        var out = "workloads (fusebench run FILE):\n"
        let width = (files.map(\.count).max() ?? 0) + 2
        for f in files {
            let points = (try? Workload.loadPoints(path: f)) ?? []
            guard let w = points.first else {
                out += "  " + Summary.pad(f, width) + "(does not parse: fusebench validate \(f))\n"
                continue
            }
            var what = w.description.split(separator: ".").first.map(String.init) ?? ""
            if what.count > 90 { what = String(what.prefix(87)) + "..." }
            out += "  " + Summary.pad(f, width) + what + "\n"
        }
        return out
    }
}

extension Strategy {
    /// One line about the strategy.
    var summary: String {
        switch self {
        case .remount: return "nobody keeps the connection: lazy unmount, fresh mount, fresh server"
        case .handoverLazy: return "the harness keeps /dev/fuse; a standby resumes it; RESEND; ids resolved on use"
        case .handoverEager: return "handover-lazy, and a storm invalidates every node and expires every entry"
        case .handoverEpoch: return "handover-lazy plus FUSE_NOTIFY_INC_EPOCH: dentries looked up again on the next walk"
        case .handoverMarkbad: return "ESTALE/EBADF for every node id and handle the new server did not hand out"
        case .handoverNaive: return "counter node ids and no state, as a typical server after a handover"
        case .handoverState: return "handover-lazy, and the open-file table lives in the keeper"
        case .handoverInode: return "handover-lazy with bare inode numbers as node ids (no generation)"
        case .handoverStateEpoch: return "composed: handover-state's kept open files and handover-epoch's epoch"
        case .handoverStateEager: return "composed: handover-state's kept open files and handover-eager's storm"
        }
    }
}
