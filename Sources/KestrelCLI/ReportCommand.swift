import ArgumentParser
import Foundation
import Kestrel

/// How `kestrel report` renders a saved benchmark report.
enum ReportFormat: String, CaseIterable, ExpressibleByArgument {
    /// A Markdown document: environment, results table, details, findings.
    case markdown
    /// The JSON report, validated and re-encoded (pretty, sorted keys).
    case json
    /// The full terminal report ending with the targets table.
    case detailed
}

/// `kestrel report`: renders a report saved by `kestrel benchmark --save` (or printed by
/// `--json`), from a file or standard input.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Render a saved benchmark report as Markdown, JSON or a detailed terminal report.",
        discussion: """
            Reads the JSON of `kestrel benchmark --save FILE` (or `--json`) from --input, or from \
            standard input without it. Reports of another schema version are refused with a message.
            """
    )

    @Option(help: "Output format: markdown, json, detailed.")
    var format: ReportFormat = .detailed

    @Option(help: "The saved JSON report (default: standard input).")
    var input: String?

    func validate() throws {
        if let input, input.isEmpty { throw ValidationError("--input needs a path") }
    }

    func run() throws {
        let data: Data
        if let input {
            do {
                data = try Data(contentsOf: URL(fileURLWithPath: input))
            } catch {
                throw ProfilingError.io(path: input, underlying: error)
            }
        } else {
            data = FileHandle.standardInput.readDataToEndOfFile()
        }
        print(try Self.render(data, format: format, colors: isatty(STDOUT_FILENO) == 1), terminator: "")
    }

    /// The report in `data` rendered as `format`.
    /// - Throws: `ProfilingError.corruptFile` / `.unsupportedVersion` when `data` is not a report this build reads.
    static func render(_ data: Data, format: ReportFormat, colors: Bool = false) throws(ProfilingError) -> String {
        let report = try BenchmarkReport.decode(data)
        switch format {
        case .markdown: return report.markdown()
        case .json: return String(decoding: try report.jsonData(), as: UTF8.self) + "\n"
        case .detailed: return report.terminalReport(colors: colors)
        }
    }
}
