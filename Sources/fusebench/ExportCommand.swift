// `fusebench export`: a result in a format another tool reads as it is.
import Workload
import ArgumentParser
import Foundation
import ResultModel

/// Exports a result.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a result for CI tools: github-action-benchmark (bigger/smaller), Bencher, markdown, CSV."
    )

    @Argument(help: "Result file.")
    var result: String

    @Option(help: """
        github-bigger, github-smaller (github-action-benchmark custom tools), bencher (Bencher Metric Format), \
        markdown, csv (a row per run and operation), csv-metrics (a row per metric: median, mean, stddev, min, \
        max over the trials).
        """)
    var format: ExportFormat

    @Option(help: "Output file (default: standard output).")
    var output: String?

    func run() throws {
        let text = try Export.render(try readResult(result, role: "result"), as: format)
        if let output { try text.write(toFile: output, atomically: true, encoding: .utf8) } else { print(text) }
    }
}

extension ExportFormat: ExpressibleByArgument {}
