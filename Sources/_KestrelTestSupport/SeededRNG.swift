import KestrelTensor

/// The tests' seeded generator: KestrelTensor's ``SplitMix64`` plus sampling helpers.
public typealias SeededRNG = SplitMix64

extension SplitMix64 {
    /// Uniform Float in `range`.
    public mutating func float(in range: ClosedRange<Float> = -1...1) -> Float {
        Float.random(in: range, using: &self)
    }

    /// `n` uniform Floats in `range`.
    public mutating func floats(_ n: Int, in range: ClosedRange<Float> = -1...1) -> [Float] {
        (0..<n).map { _ in Float.random(in: range, using: &self) }
    }

    /// Standard normal sample (Box–Muller).
    public mutating func gaussian() -> Float {
        let u1 = Double.random(in: Double.ulpOfOne...1, using: &self)
        let u2 = Double.random(in: 0...1, using: &self)
        return Float((-2 * _log(u1)).squareRoot() * _cos(2 * Double.pi * u2))
    }

    /// `n` uniform Int8 values over the whole range, -128 and 127 included.
    public mutating func int8s(_ n: Int) -> [Int8] {
        (0..<n).map { _ in Int8(truncatingIfNeeded: next()) }
    }

    /// `n` uniform bytes.
    public mutating func bytes(_ n: Int) -> [UInt8] {
        (0..<n).map { _ in UInt8(truncatingIfNeeded: next()) }
    }
}

#if canImport(Glibc)
import Glibc
private func _log(_ x: Double) -> Double { Glibc.log(x) }
private func _cos(_ x: Double) -> Double { Glibc.cos(x) }
#elseif canImport(Darwin)
import Darwin
private func _log(_ x: Double) -> Double { Darwin.log(x) }
private func _cos(_ x: Double) -> Double { Darwin.cos(x) }
#elseif canImport(Musl)
import Musl
private func _log(_ x: Double) -> Double { Musl.log(x) }
private func _cos(_ x: Double) -> Double { Musl.cos(x) }
#endif
