// `fusebench report`: a self-contained HTML page for a result.
import Workload
import ArgumentParser
import Foundation
import ResultModel

/// Writes an HTML report.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write a self-contained HTML page (inline SVG, no network) for a result."
    )

    @Argument(help: "Result file.")
    var result: String

    @Option(help: "HTML file to write.")
    var html: String

    func run() throws {
        let doc = try readResult(result, role: "result")
        let page = HTMLReport.render(doc, title: "fusebench: " + URL(fileURLWithPath: result).lastPathComponent)
        do { try page.write(toFile: html, atomically: true, encoding: .utf8) } catch {
            throw CLIError.failed("cannot write \(html): \(error.localizedDescription)")
        }
        writeStderr("fusebench: wrote \(html)\n")
    }
}
