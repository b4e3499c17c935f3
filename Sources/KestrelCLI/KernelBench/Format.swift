import Foundation

/// Small text-formatting helpers for the benchmark tables.
enum Format {
    /// `x` with `digits` decimals ("nan" for NaN).
    static func fixed(_ x: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", x) }

    /// A duration in nanoseconds with 3-4 significant digits ("0.812", "41.3", "1235").
    static func nanoseconds(_ ns: Double) -> String {
        switch ns {
        case ..<10: return fixed(ns, 3)
        case ..<100: return fixed(ns, 2)
        case ..<1000: return fixed(ns, 1)
        default: return fixed(ns, 0)
        }
    }

    /// `s` padded with spaces on the right to `width` characters.
    static func left(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
    }

    /// `s` padded with spaces on the left to `width` characters.
    static func right(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : String(repeating: " ", count: width - s.count) + s
    }
}
