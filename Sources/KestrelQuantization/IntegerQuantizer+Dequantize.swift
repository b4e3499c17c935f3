extension IntegerQuantizer {
    /// Steps and zero points of a payload of this scheme for `shape`, validated.
    /// - Throws: `invalidArgument` for a shape the granularity cannot hold; `corruptFile` (section
    ///   "integer payload") when the byte count differs from ``quantizedByteCount(shape:)``, a step
    ///   is not finite and positive, a zero point is outside the code range, or the unused nibble
    ///   of an odd int4 payload is not 0.
    /// - Complexity: O(slots).
    public func parameters(of q: QuantizedTensor) throws(KestrelError) -> (steps: [Float], zeroPoints: [Int8]) {
        guard q.format == format else {
            throw .invalidArgument(name: "format", reason: "payload is \(q.format), this quantizer reads \(format)")
        }
        let layout = try ScaleLayout(shape: q.shape, granularity: scheme.granularity)
        return try parameters(of: q, layout: layout)
    }

    private func parameters(of q: QuantizedTensor, layout: ScaleLayout) throws(KestrelError) -> (steps: [Float], zeroPoints: [Int8]) {
        let expected = try quantizedByteCount(shape: q.shape)
        guard q.data.count == expected else {
            throw .corruptFile(path: nil, section: "integer payload",
                               reason: "\(q.data.count) bytes, shape \(q.shape) needs \(expected)")
        }
        let slots = layout.slotCount
        let (qmin, qmax) = codeBounds
        var steps = [Float](repeating: 0, count: slots)
        var zeros = [Int8](repeating: 0, count: slots)
        let problem: String? = q.data.withUnsafeBytes { raw in
            for k in 0..<slots {
                let s = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * k, as: UInt32.self)))
                guard s.isFinite && s > 0 else { return "step \(k) is \(s)" }
                steps[k] = s
                if !scheme.symmetric {
                    let z = raw.load(fromByteOffset: 4 * slots + k, as: Int8.self)
                    guard Int32(z) >= qmin && Int32(z) <= qmax else { return "zero point \(k) is \(z)" }
                    zeros[k] = z
                }
            }
            if scheme.bits == 4 && layout.elementCount % 2 == 1 && raw[raw.count - 1] & 0xF0 != 0 {
                return "unused high nibble of the last byte is not 0"
            }
            return nil
        }
        if let problem { throw .corruptFile(path: nil, section: "integer payload", reason: problem) }
        return (steps, zeros)
    }

    /// Dequantizes to an f32 tensor of `q.shape`: `x̂ = Float(q − z) · step` per element.
    /// Every code decodes (the symmetric schemes never write −128 or −8, but read them as `step · q`).
    /// - Throws: `invalidArgument` when `q.format` is not this quantizer's format or the shape is
    ///   invalid for it; `corruptFile` as ``parameters(of:)``; `capacityExceeded` when allocation fails.
    /// - Complexity: O(n) time, O(n) memory (plus n bytes for int4).
    public func dequantize(_ q: QuantizedTensor) throws(KestrelError) -> Tensor {
        guard q.format == format else {
            throw .invalidArgument(name: "format", reason: "payload is \(q.format), this quantizer reads \(format)")
        }
        let layout = try ScaleLayout(shape: q.shape, granularity: scheme.granularity)
        let (steps, zeros) = try parameters(of: q, layout: layout)
        var out = try Tensor.zeros(q.shape)
        let n = layout.elementCount
        guard n > 0 else { return out }
        let header = layout.slotCount * (scheme.symmetric ? 4 : 5)
        var codes = [Int8](repeating: 0, count: n)
        q.data.withUnsafeBytes { raw in
            codes.withUnsafeMutableBufferPointer { cb in
                if scheme.bits == 8 {
                    UnsafeMutableRawPointer(cb.baseAddress!).copyMemory(from: raw.baseAddress! + header, byteCount: n)
                } else {
                    Self.unpack4((raw.baseAddress! + header).assumingMemoryBound(to: UInt8.self), count: n, into: cb.baseAddress!)
                }
            }
        }
        try out.withUnsafeMutableBufferPointer { (ob: UnsafeMutableBufferPointer<Float>) throws(KestrelError) in
            let o = ob.baseAddress!
            codes.withUnsafeBufferPointer { cb in
                let c = cb.baseAddress!
                if let cols = layout.columnsIfPerLastAxis {
                    for r in 0..<(n / cols) {
                        for j in 0..<cols {
                            o[r * cols + j] = Float(Int32(c[r * cols + j]) - Int32(zeros[j])) * steps[j]
                        }
                    }
                    return
                }
                layout.forEachRun { start, len, slot in
                    AffineCodes.decode(c + start, count: len, step: steps[slot], zeroPoint: Int32(zeros[slot]),
                                       offsets: nil, into: o + start)
                }
            }
        }
        return out
    }
}
