/// Outliers of a sample of timings by two rules, counted and reported (never silently dropped).
///
/// - Tukey's fences: below Q1 − k·IQR or above Q3 + k·IQR, with k = 1.5 (mild) and 3 (severe).
/// - MAD rule: modified z-score |x − median| / (1.4826·MAD) above 3.5 (Iglewicz–Hoaglin); robust
///   to the outliers themselves, unlike a mean ± 3σ rule.
///
/// Timings are skewed to the right (interrupts, page faults, other processes), so high outliers
/// are the common case; many of them say the machine was noisy during the run.
public struct OutlierReport: Codable, Sendable, Equatable {
    /// Number of values analysed.
    public var count: Int
    /// Values below Q1 − 3·IQR.
    public var lowSevere: Int
    /// Values in [Q1 − 3·IQR, Q1 − 1.5·IQR).
    public var lowMild: Int
    /// Values in (Q3 + 1.5·IQR, Q3 + 3·IQR].
    public var highMild: Int
    /// Values above Q3 + 3·IQR.
    public var highSevere: Int
    /// Values whose modified z-score exceeds 3.5.
    public var madOutliers: Int
    /// The four Tukey fences: Q1 − 3·IQR, Q1 − 1.5·IQR, Q3 + 1.5·IQR, Q3 + 3·IQR.
    public var fences: [Double]

    /// Classifies every value of `values`.
    ///
    /// - Complexity: O(n log n).
    public init(_ values: [Double]) {
        count = values.count
        lowSevere = 0
        lowMild = 0
        highMild = 0
        highSevere = 0
        madOutliers = 0
        fences = []
        guard values.count >= 4 else { return }
        let sorted = values.sorted()
        let q1 = Descriptive.quantile(sorted: sorted, 0.25)
        let q3 = Descriptive.quantile(sorted: sorted, 0.75)
        let iqr = q3 - q1
        fences = [q1 - 3 * iqr, q1 - 1.5 * iqr, q3 + 1.5 * iqr, q3 + 3 * iqr]
        let median = Descriptive.quantile(sorted: sorted, 0.5)
        let mad = Descriptive.medianAbsoluteDeviation(sorted: sorted, median: median)
        for v in sorted {
            if v < fences[0] { lowSevere += 1 } else if v < fences[1] { lowMild += 1 }
            if v > fences[3] { highSevere += 1 } else if v > fences[2] { highMild += 1 }
            // With MAD = 0 (more than half the values equal) any different value is an outlier.
            if mad > 0 {
                if abs(v - median) / (1.4826 * mad) > 3.5 { madOutliers += 1 }
            } else if v != median {
                madOutliers += 1
            }
        }
    }

    /// All Tukey outliers (mild and severe, both sides).
    public var tukeyOutliers: Int { lowSevere + lowMild + highMild + highSevere }

    /// Fraction of values outside Tukey's 1.5·IQR fences (0...1).
    public var tukeyFraction: Double { count == 0 ? 0 : Double(tukeyOutliers) / Double(count) }

    /// One line, e.g. `3/30 Tukey outliers (2 high mild, 1 high severe), 2 by MAD`.
    public var line: String {
        var parts = [String]()
        if lowSevere > 0 { parts.append("\(lowSevere) low severe") }
        if lowMild > 0 { parts.append("\(lowMild) low mild") }
        if highMild > 0 { parts.append("\(highMild) high mild") }
        if highSevere > 0 { parts.append("\(highSevere) high severe") }
        let detail = parts.isEmpty ? "" : " (" + parts.joined(separator: ", ") + ")"
        return "\(tukeyOutliers)/\(count) Tukey outliers\(detail), \(madOutliers) by MAD"
    }
}
