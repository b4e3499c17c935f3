/// Times an operation at growing sizes or thread counts with ``Measurer`` and fits
/// ``PowerLawFit`` or ``AmdahlFit`` to the medians.
public enum ScalingAnalysis {
    /// Medians at each size and the fitted power law.
    public struct SizeReport: Codable, Sendable, Equatable {
        /// Sizes measured.
        public var sizes: [Int]
        /// Median nanoseconds per call at each size.
        public var medianNanoseconds: [Double]
        /// The fit.
        public var fit: PowerLawFit

        /// Predicted nanoseconds at `n`.
        public func predict(_ n: Int) -> Double { fit.predict(Double(n)) }
    }

    /// Medians at each thread count and the fitted Amdahl law.
    public struct ThreadReport: Codable, Sendable, Equatable {
        /// Thread counts measured.
        public var threads: [Int]
        /// Median nanoseconds per call at each count.
        public var medianNanoseconds: [Double]
        /// The fit.
        public var fit: AmdahlFit
    }

    /// Measures `body(n)` at every size and fits cost = a·n^b + c.
    ///
    /// - Parameters:
    ///   - sizes: at least 3 distinct positive sizes, e.g. powers of two.
    ///   - options: measurement method for each size.
    ///   - body: performs the operation at size n (prepare inputs outside, capture them).
    /// - Throws: ``ProfilingError`` from measuring or fitting.
    public static func sizes(_ sizes: [Int], options: MeasurementOptions = .quick,
                             _ body: (Int) -> Void) throws(ProfilingError) -> SizeReport {
        guard sizes.allSatisfy({ $0 > 0 }) else { throw .invalidArgument(name: "sizes", reason: "must be positive") }
        var medians = [Double]()
        for n in sizes {
            medians.append(try Measurer.measure("n=\(n)", options: options) { body(n) }.statistics.median)
        }
        return SizeReport(sizes: sizes, medianNanoseconds: medians,
                          fit: try PowerLawFit.fit(sizes: sizes.map(Double.init), costs: medians.map { Swift.max($0, 1e-3) }))
    }

    /// Measures `body(t)` at every thread count (the closure runs its work on `t` threads) and
    /// fits Amdahl's law.
    public static func threads(_ threads: [Int], options: MeasurementOptions = .quick,
                               _ body: (Int) -> Void) throws(ProfilingError) -> ThreadReport {
        var medians = [Double]()
        for t in threads {
            medians.append(try Measurer.measure("threads=\(t)", options: options) { body(t) }.statistics.median)
        }
        return ThreadReport(threads: threads, medianNanoseconds: medians,
                            fit: try AmdahlFit.fit(threads: threads, costs: medians.map { Swift.max($0, 1e-3) }))
    }
}
