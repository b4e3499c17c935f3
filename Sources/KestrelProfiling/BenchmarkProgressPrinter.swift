import Foundation

/// Prints ``BenchmarkProgress`` events as short lines — `[3/12] hnsw.search …` then
/// `[3/12] PASS hnsw.search 180× (2.1 s)` — for a CLI. By default it writes to standard error
/// and only when standard error is a terminal, so piped or CI output stays quiet.
public struct BenchmarkProgressPrinter {
    /// False: every event is ignored.
    public var enabled: Bool
    /// Colour the status (on when writing to a terminal).
    public var colors: Bool
    private let write: (String) -> Void

    /// A printer writing to standard error, enabled only when it is a terminal.
    public init() {
        let tty = isatty(STDERR_FILENO) == 1
        self.init(enabled: tty, colors: tty) { FileHandle.standardError.write(Data($0.utf8)) }
    }

    /// A printer writing through `write` (tests, log files).
    public init(enabled: Bool, colors: Bool = false, write: @escaping (String) -> Void) {
        self.enabled = enabled
        self.colors = colors
        self.write = write
    }

    /// Handles one event; pass this method as the `progress` argument of ``BenchmarkSuite/run(suite:environment:context:progress:)``.
    public func callAsFunction(_ event: BenchmarkProgress) {
        guard enabled else { return }
        switch event {
        case .started(let name, let index, let total):
            write("[\(index + 1)/\(total)] \(name) …\n")
        case .message(let name, let text):
            write("        \(name): \(text)\n")
        case .finished(let r, let index, let total):
            let value = BenchmarkReport.measured(r)
            write("[\(index + 1)/\(total)] \(BenchmarkReport.statusText(r.status, colors: colors)) \(r.name) \(value)"
                  + String(format: " (%.1f s)\n", r.durationSeconds))
        }
    }
}
