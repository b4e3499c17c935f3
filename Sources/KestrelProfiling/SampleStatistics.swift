import Foundation

/// Descriptive statistics of a sample of Doubles (timings in nanoseconds, usually).
/// `Codable` for reports.
public struct SampleStatistics: Codable, Sendable, Equatable {
    /// Number of values.
    public var count: Int
    /// Smallest value.
    public var min: Double
    /// Largest value.
    public var max: Double
    /// Arithmetic mean.
    public var mean: Double
    /// Median (type-7 quantile at 0.5).
    public var median: Double
    /// Sample standard deviation (n − 1; 0 for a single value).
    public var standardDeviation: Double
    /// First quartile (type-7).
    public var q1: Double
    /// Third quartile (type-7).
    public var q3: Double
    /// 90th percentile (type-7).
    public var p90: Double
    /// 99th percentile (type-7).
    public var p99: Double
    /// Median absolute deviation from the median, unscaled.
    public var medianAbsoluteDeviation: Double

    /// Computes the statistics of `values`.
    ///
    /// - Throws: ``ProfilingError/insufficientData(needed:got:)`` when `values` is empty,
    ///   ``ProfilingError/invalidArgument(name:reason:)`` when a value is NaN or infinite.
    /// - Complexity: O(n log n) time (a sort), O(n) memory.
    public init(_ values: [Double]) throws(ProfilingError) {
        guard !values.isEmpty else { throw .insufficientData(needed: 1, got: 0) }
        if let bad = values.firstIndex(where: { !$0.isFinite }) {
            throw .invalidArgument(name: "values", reason: "value at index \(bad) is not finite")
        }
        let sorted = values.sorted()
        count = sorted.count
        min = sorted[0]
        max = sorted[sorted.count - 1]
        mean = Descriptive.mean(sorted)
        median = Descriptive.quantile(sorted: sorted, 0.5)
        standardDeviation = Descriptive.standardDeviation(sorted, mean: mean)
        q1 = Descriptive.quantile(sorted: sorted, 0.25)
        q3 = Descriptive.quantile(sorted: sorted, 0.75)
        p90 = Descriptive.quantile(sorted: sorted, 0.90)
        p99 = Descriptive.quantile(sorted: sorted, 0.99)
        medianAbsoluteDeviation = Descriptive.medianAbsoluteDeviation(sorted: sorted, median: median)
    }

    /// Coefficient of variation: standard deviation / mean (0 when the mean is 0).
    public var coefficientOfVariation: Double { mean == 0 ? 0 : standardDeviation / abs(mean) }
}

/// The small numerical helpers behind the statistics (internal; tested through the public API).
enum Descriptive {
    /// Mean with pairwise-free compensated (Kahan–Neumaier) summation.
    static func mean(_ values: [Double]) -> Double {
        if values.isEmpty { return 0 }
        return sum(values) / Double(values.count)
    }

    static func sum(_ values: [Double]) -> Double {
        var s = 0.0, c = 0.0
        for v in values {
            let t = s + v
            if abs(s) >= abs(v) { c += (s - t) + v } else { c += (v - t) + s }
            s = t
        }
        return s + c
    }

    /// Sample standard deviation around a known mean (two-pass: no cancellation).
    static func standardDeviation(_ values: [Double], mean: Double) -> Double {
        if values.count < 2 { return 0 }
        var ss = 0.0
        for v in values { ss += (v - mean) * (v - mean) }
        return (ss / Double(values.count - 1)).squareRoot()
    }

    /// Hyndman–Fan type-7 quantile (linear interpolation between order statistics, as R and NumPy default).
    static func quantile(sorted: [Double], _ p: Double) -> Double {
        if sorted.isEmpty { return .nan }
        if sorted.count == 1 { return sorted[0] }
        let h = Swift.min(Swift.max(p, 0), 1) * Double(sorted.count - 1)
        let lo = Int(h.rounded(.down))
        let hi = Swift.min(lo + 1, sorted.count - 1)
        return sorted[lo] + (h - Double(lo)) * (sorted[hi] - sorted[lo])
    }

    static func median(_ values: [Double]) -> Double {
        var copy = values
        return medianInPlace(&copy)
    }

    /// Median by quickselect (Hoare partition, median-of-three pivot), reordering `values`;
    /// equals the type-7 quantile at 0.5. NaN for an empty array.
    /// - Complexity: O(n) expected, O(1) extra memory.
    static func medianInPlace(_ values: inout [Double]) -> Double {
        let n = values.count
        if n == 0 { return .nan }
        return values.withUnsafeMutableBufferPointer { v in
            let hi = select(v, n / 2)
            if n % 2 == 1 { return hi }
            // The lower middle is the largest value left of position n/2 after selection.
            var lo = v[0]
            for i in 1..<(n / 2) where v[i] > lo { lo = v[i] }
            return lo + (hi - lo) / 2
        }
    }

    /// Puts the k-th smallest value at index k (everything before it ≤, after it ≥) and returns it.
    private static func select(_ v: UnsafeMutableBufferPointer<Double>, _ k: Int) -> Double {
        var left = 0, right = v.count - 1
        while right > left {
            let mid = left + (right - left) / 2
            // Median of three as pivot, so sorted or constant inputs stay O(n).
            if v[mid] < v[left] { v.swapAt(mid, left) }
            if v[right] < v[left] { v.swapAt(right, left) }
            if v[right] < v[mid] { v.swapAt(right, mid) }
            let pivot = v[mid]
            var i = left, j = right
            while i <= j {
                while v[i] < pivot { i += 1 }
                while v[j] > pivot { j -= 1 }
                if i <= j {
                    v.swapAt(i, j)
                    i += 1
                    j -= 1
                }
            }
            if k <= j { right = j } else if k >= i { left = i } else { return v[k] }
        }
        return v[k]
    }

    static func medianAbsoluteDeviation(sorted: [Double], median: Double) -> Double {
        quantile(sorted: sorted.map { abs($0 - median) }.sorted(), 0.5)
    }

    /// Standard normal upper tail P(Z > z).
    static func normalUpperTail(_ z: Double) -> Double { 0.5 * erfc(z / 2.0.squareRoot()) }

    /// Standard normal quantile (Acklam's rational approximation refined by one Halley step;
    /// absolute error below 1e-12 on (0, 1)).
    static func normalQuantile(_ p: Double) -> Double {
        if p <= 0 { return -.infinity }
        if p >= 1 { return .infinity }
        let a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00]
        let b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                 6.680131188771972e+01, -1.328068155288572e+01]
        let c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                 -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00]
        let d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00]
        let low = 0.02425
        var x: Double
        if p < low {
            let q = (-2 * log(p)).squareRoot()
            x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5])
                / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
        } else if p <= 1 - low {
            let q = p - 0.5, r = q * q
            x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q
                / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
        } else {
            let q = (-2 * log(1 - p)).squareRoot()
            x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5])
                / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
        }
        let e = 0.5 * erfc(-x / 2.0.squareRoot()) - p
        let u = e * (2 * Double.pi).squareRoot() * exp(x * x / 2)
        return x - u / (1 + x * u / 2)
    }
}
