/// A small, fast, seeded generator (SplitMix64) so every test input is reproducible.
public struct SeededRNG: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// Creates a generator; equal seeds give equal sequences on every platform.
    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

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
