import Foundation

/// How busy the machine is, printed next to the results: timings taken while other processes
/// compete for the cores are slower and noisier.
enum MachineLoad {
    /// The 1-minute load average from /proc/loadavg (nil where it does not exist, e.g. macOS).
    static func oneMinute() -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8),
              let first = text.split(separator: " ").first
        else { return nil }
        return Double(first)
    }
}
