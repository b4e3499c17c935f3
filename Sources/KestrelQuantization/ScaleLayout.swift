/// Which elements of a tensor share a scale ("slot") under a ``QuantizationGranularity``: the
/// tensor is walked as runs of consecutive row-major elements that share one slot.
///
/// - per tensor: one run, slot 0.
/// - per channel along `axis`: the shape is seen as `[outer, C, inner]`; each (o, c) is a run of
///   `inner` elements with slot c (C slots).
/// - per group of `g` along the last axis `L`: each row is cut into `⌈L/g⌉` groups, the last one
///   shorter when `g` does not divide `L`; slot `row · ⌈L/g⌉ + k` (rows · ⌈L/g⌉ slots).
///
/// Value type; thread-safe.
struct ScaleLayout: Sendable, Equatable {
    let elementCount: Int
    let slotCount: Int
    /// Runs per outer block / per row, the run length, and how slots advance (see `forEachRun`).
    private let outer: Int
    private let channels: Int
    private let inner: Int
    private let group: Int
    private let kind: Kind
    private enum Kind { case tensor, channel, group }

    /// - Throws: `invalidArgument` for an axis out of range, a group size other than 32, 64, 128
    ///   or a per-channel/per-group scheme on a rank-0 shape; `invalidArgument`/`capacityExceeded`
    ///   for negative or overflowing extents.
    init(shape: [Int], granularity: QuantizationGranularity) throws(KestrelError) {
        let n = try SizeCheck.product(shape)
        elementCount = n
        switch granularity {
        case .perTensor:
            kind = .tensor
            (outer, channels, inner, group) = (1, 1, n, 0)
            slotCount = 1
        case .perChannel(let axis):
            guard axis >= 0 && axis < shape.count else {
                throw .invalidArgument(name: "axis", reason: "axis \(axis) out of range for rank \(shape.count)")
            }
            kind = .channel
            let o = try SizeCheck.product(Array(shape[..<axis]))
            let i = try SizeCheck.product(Array(shape[(axis + 1)...]))
            (outer, channels, inner, group) = (o, shape[axis], i, 0)
            slotCount = shape[axis]
        case .perGroup(let size):
            guard [32, 64, 128].contains(size) else {
                throw .invalidArgument(name: "group", reason: "group size must be 32, 64 or 128, got \(size)")
            }
            guard let last = shape.last else {
                throw .invalidArgument(name: "granularity", reason: "per-group quantization needs rank >= 1")
            }
            kind = .group
            let rows = last == 0 ? try SizeCheck.product(Array(shape.dropLast())) : n / last
            // Not (last + size - 1) / size: a file may declare a last axis near Int.max beside a zero axis.
            let perRow = last / size + (last % size == 0 ? 0 : 1)
            (outer, channels, inner, group) = (rows, perRow, last, size)
            slotCount = try SizeCheck.product(rows, perRow)
        }
    }

    /// Inner extent when every run has length 1 along the last axis with slot = column
    /// (per channel along the last axis): callers use per-column parameters instead of runs.
    var columnsIfPerLastAxis: Int? {
        kind == .channel && inner == 1 && channels > 0 ? channels : nil
    }

    /// Whether every slot is exactly one run (per tensor, per group, per channel with nothing
    /// before the axis), so a slot's range and codes can be computed in one visit.
    var slotsAreSingleRuns: Bool {
        kind == .tensor || kind == .group || (kind == .channel && outer == 1)
    }

    /// Calls `body(start, length, slot)` for every non-empty run, in increasing `start`.
    @inline(__always)
    func forEachRun<E: Error>(_ body: (_ start: Int, _ length: Int, _ slot: Int) throws(E) -> Void) throws(E) {
        guard elementCount > 0 else { return }
        switch kind {
        case .tensor:
            try body(0, elementCount, 0)
        case .channel:
            var start = 0
            for _ in 0..<outer {
                for c in 0..<channels {
                    try body(start, inner, c)
                    start += inner
                }
            }
        case .group:
            var start = 0
            for r in 0..<outer {
                for k in 0..<channels {
                    let len = Swift.min(group, inner - k * group)
                    try body(start, len, r * channels + k)
                    start += len
                }
            }
        }
    }
}
