// Where `run` and `bench` put their result, and how they report it.
import Workload
import ArgumentParser
import Foundation
import ResultModel

/// Output options shared by the commands that write results.
struct ResultOutput: ParsableArguments {
    @Option(help: "Result file to write.")
    var output: String?

    @Option(help: "Directory for results when --output is not given.")
    var resultsDir = "results"

    @Flag(help: "No progress on standard error.")
    var quiet = false

    /// Writes `doc` (to --output, or results/<stem>-<UTC time>.json),
    /// prints the summary and says where the file went.
    func publish(_ doc: ResultDocument, stem: String) throws {
        let path = output ?? "\(resultsDir)/\(stem)-\(Self.timestamp()).json"
        do { try ResultFile.write(doc, to: path) } catch {
            throw CLIError.failed("cannot write the result to \(path): \(error.localizedDescription)")
        }
        print(Summary.text(doc), terminator: "")
        if doc.partial == true {
            // Interrupted: what was measured is written, marked partial; the exit says interrupted.
            writeStderr("fusebench: interrupted: wrote the partial result (\(doc.runs.count) run(s), the last one "
                        + "cut short) to \(path)\n")
            throw CLIError.interrupted
        }
        writeStderr("fusebench: wrote \(path)\n")
    }

    private static func timestamp() -> String {
        let f = DateFormatter()
        f.dateFormat = "yyyyMMdd-HHmmss"
        f.timeZone = TimeZone(identifier: "UTC")
        return f.string(from: Date())
    }
}
