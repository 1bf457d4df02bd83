// The fusebench command: benchmark, load and crash-test FUSE servers.
import Workload
import ArgumentParser
import Glibc
import ResultModel

/// Root command.
@main
struct Fusebench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fusebench",
        abstract: "Benchmark a FUSE server on a real mount, under load and through crashes.",
        discussion: """
        Exit codes: 0 success; 1 the run failed (see message); 2 bad input \
        (usage, workload file); 3 unsuitable environment (not root, no \
        /dev/fuse, no mount namespace, backing file system without file \
        handles); 4 aborted by a watchdog (a mount or server stopped \
        answering); 5 the gate found a regression; 6 a result file (the \
        baseline) is missing or unreadable; 7 a result file has an \
        incompatible schema version; 130 interrupted.
        """,
        version: ToolInfo.version,
        subcommands: [RunCommand.self, BenchCommand.self, CompareCommand.self, GateCommand.self, ExportCommand.self,
                      ReportCommand.self, ListCommand.self, ScorecardCommand.self,
                      ServeCommand.self, ValidateCommand.self, SpawnerCommand.self,
                      ResolveNodeCommand.self]
    )

    /// Runs the command and maps failures to the documented exit codes.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let e as CLIError {
            writeStderr("fusebench: error: \(e)\n")
            Glibc.exit(e.exitCode)
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                writeStderr(fullMessage(for: error) + "\n")
                Glibc.exit(2)
            }
            exit(withError: error)
        }
    }
}
