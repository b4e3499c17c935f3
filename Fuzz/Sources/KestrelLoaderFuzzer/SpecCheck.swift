import CKestrelKernels

/// An independent reading of the index file format (Documentation/FileFormats.md), written from
/// the document rather than from the loaders. The harness runs it on every file a loader
/// *accepts*: a file the loader takes but the specification rejects is a validation gap (for
/// example a link to a node that does not exist on that layer, which the searches would then
/// follow into another node's row) and is reported as a finding even when it happens not to
/// crash. Only the accepted inputs are checked, so it costs nothing on the common path.
enum SpecCheck {
    struct Violation: Error, CustomStringConvertible {
        var description: String
    }

    static func need(_ ok: Bool, _ what: @autoclosure () -> String) throws(Violation) {
        if !ok { throw Violation(description: what()) }
    }

    /// Little-endian reads; running past the end is itself a violation.
    struct Reader {
        let b: UnsafeRawBufferPointer
        var pos: Int
        let end: Int

        mutating func take<T: FixedWidthInteger>(_: T.Type) throws(Violation) -> T {
            let n = MemoryLayout<T>.size
            try need(end - pos >= n, "field past the end of its section")
            defer { pos += n }
            return T(littleEndian: b.loadUnaligned(fromByteOffset: pos, as: T.self))
        }

        func at<T: FixedWidthInteger>(_ offset: Int, _: T.Type) -> T {
            T(littleEndian: b.loadUnaligned(fromByteOffset: offset, as: T.self))
        }
    }

    /// Section payload ranges by tag, after checking the whole container.
    static func container(_ b: UnsafeRawBufferPointer, kind: UInt32, tags: Set<String>, payloadCRCs: Bool) throws(Violation) -> [String: Range<Int>] {
        let r = Reader(b: b, pos: 0, end: b.count)
        try need(b.count >= 64, "shorter than the header")
        try need(Array(b[0..<8]) == Array("KSTRLIDX".utf8), "magic")
        try need(r.at(8, UInt32.self) == 1, "version")
        try need(r.at(12, UInt32.self) == kind, "kind")
        try need(r.at(20, UInt32.self) == 0 && b[32..<60].allSatisfy { $0 == 0 }, "reserved header bytes")
        try need(r.at(24, UInt64.self) == UInt64(b.count), "declared length")
        try need(r.at(60, UInt32.self) == crc(b, 0..<60), "header CRC")
        let count = Int(r.at(16, UInt32.self))
        try need(count <= 64, "section count")
        var out: [String: Range<Int>] = [:]
        var pos = 64
        for _ in 0..<count {
            try need(b.count - pos >= 64, "section header past the end")
            let tag = String(decoding: b[pos..<(pos + 4)], as: UTF8.self)
            try need(tags.contains(tag) && out[tag] == nil, "tag \(tag)")
            try need(r.at(pos + 4, UInt32.self) == 0 && b[(pos + 20)..<(pos + 60)].allSatisfy { $0 == 0 }, "reserved section bytes")
            try need(r.at(pos + 60, UInt32.self) == crc(b, pos..<(pos + 60)), "section header CRC")
            let len = r.at(pos + 8, UInt64.self)
            let start = pos + 64
            try need(len <= UInt64(b.count - start), "payload past the end")
            let payload = start..<(start + Int(len))
            let next = start + (Int(len) + 63) / 64 * 64
            try need(next <= b.count && b[payload.upperBound..<next].allSatisfy { $0 == 0 }, "padding")
            if payloadCRCs { try need(r.at(pos + 16, UInt32.self) == crc(b, payload), "payload CRC of \(tag)") }
            out[tag] = payload
            pos = next
        }
        try need(pos == b.count, "bytes after the last section")
        return out
    }

    struct Codec {
        var dimension: Int
        var metric: UInt8
        var storage: UInt8
        var stride: Int
        /// Bytes of one encoded vector; the rest of the stride is padding.
        var codeBytes: Int
        /// A codec that trains on the first batch added and has not yet: only an empty index may have one.
        var untrained: Bool
    }

    /// The codec record at the start of PARM.
    static func codec(_ r: inout Reader) throws(Violation) -> Codec {
        let d = Int(try r.take(UInt32.self))
        let metric = try r.take(UInt8.self)
        let storage = try r.take(UInt8.self)
        let trained = try r.take(UInt8.self)
        let zero = try r.take(UInt8.self)
        try need(zero == 0 && trained <= 1, "codec flags")
        try need(d >= 1 && d <= 1 << 20 && metric <= 3 && storage <= 4, "codec dimension/metric/storage")
        try need(metric != 3 || storage == 4, "hamming needs binary codes")
        try need(storage != 3 || d <= Int(KESTREL_I8_MANY_MAX_DIM), "int8 dimension")
        let needsTraining = storage == 3 || (storage == 4 && metric != 3)
        let step = Float(bitPattern: try r.take(UInt32.self))
        try need(step.isFinite && step > 0, "int8 step")
        let offsets = Int(try r.take(UInt32.self))
        let hasOffsets = trained == 1 && ((storage == 3 && metric == 0) || (storage == 4 && metric != 3))
        try need(offsets == (hasOffsets ? d : 0), "offset count")
        for _ in 0..<offsets { try need(Float(bitPattern: try r.take(UInt32.self)).isFinite, "offset") }
        let codeBytes = [4 * d, 2 * d, 2 * d, d, (d + 7) / 8][Int(storage)]
        return Codec(dimension: d, metric: metric, storage: storage, stride: (codeBytes + 15) / 16 * 16, codeBytes: codeBytes,
                     untrained: needsTraining && trained == 0)
    }

    static func flat(_ b: UnsafeRawBufferPointer, payloadCRCs: Bool) throws(Violation) {
        let s = try container(b, kind: 1, tags: ["PARM", "KEYS", "VECT"], payloadCRCs: payloadCRCs)
        guard let parm = s["PARM"], let keys = s["KEYS"], let vect = s["VECT"] else { throw Violation(description: "missing section") }
        var r = Reader(b: b, pos: parm.lowerBound, end: parm.upperBound)
        let c = try codec(&r)
        let n64 = try r.take(UInt64.self)
        try need(r.pos == r.end, "PARM length")
        try need(n64 < 1 << 32, "row count")
        try need(n64 == 0 || !c.untrained, "rows stored with an untrained codec")
        let n = Int(n64)
        try need(keys.count == 8 * n && vect.count == n * c.stride, "section sizes")
        var seen = Set<UInt64>()
        for i in 0..<n { try need(seen.insert(r.at(keys.lowerBound + 8 * i, UInt64.self)).inserted, "duplicate key") }
        try rows(b, vect, n, c)
    }

    /// "Padding bytes of a row are zero", and f32/f16/bf16 components are finite (the format
    /// stores only what `add` accepts, and `add` refuses NaN and infinities).
    static func rows(_ b: UnsafeRawBufferPointer, _ vect: Range<Int>, _ n: Int, _ c: Codec) throws(Violation) {
        let r = Reader(b: b, pos: vect.lowerBound, end: vect.upperBound)
        for i in 0..<n {
            let row = vect.lowerBound + i * c.stride
            try need(b[(row + c.codeBytes)..<(row + c.stride)].allSatisfy { $0 == 0 }, "padding of row \(i)")
            for j in 0..<(c.storage <= 2 ? c.dimension : 0) {
                let finite: Bool
                switch c.storage {
                case 0: finite = Float(bitPattern: r.at(row + 4 * j, UInt32.self)).isFinite
                case 1: finite = halfIsFinite(r.at(row + 2 * j, UInt16.self))
                default: finite = Float(bitPattern: UInt32(r.at(row + 2 * j, UInt16.self)) << 16).isFinite
                }
                try need(finite, "row \(i) component \(j) is not finite")
            }
        }
    }

    /// IEEE binary16: finite unless the five exponent bits are all ones.
    static func halfIsFinite(_ bits: UInt16) -> Bool { (bits >> 10) & 0x1F != 0x1F }

    /// The kept f32 vectors: `n` unpadded rows of `dimension` finite floats.
    static func fullRows(_ b: UnsafeRawBufferPointer, _ full: Range<Int>) throws(Violation) {
        let r = Reader(b: b, pos: full.lowerBound, end: full.upperBound)
        for o in stride(from: full.lowerBound, to: full.upperBound, by: 4) {
            try need(Float(bitPattern: r.at(o, UInt32.self)).isFinite, "FULL value at byte \(o - full.lowerBound) is not finite")
        }
    }

    static func hnsw(_ b: UnsafeRawBufferPointer, payloadCRCs: Bool) throws(Violation) {
        let tags: Set<String> = ["PARM", "KEYS", "LEVL", "STAT", "USTR", "VECT", "FULL", "LNK0", "LNKU"]
        let s = try container(b, kind: 2, tags: tags, payloadCRCs: payloadCRCs)
        func sec(_ t: String) throws(Violation) -> Range<Int> {
            guard let r = s[t] else { throw Violation(description: "missing \(t)") }
            return r
        }
        let parm = try sec("PARM")
        var r = Reader(b: b, pos: parm.lowerBound, end: parm.upperBound)
        let c = try codec(&r)
        let m = Int(try r.take(UInt32.self))
        let efc = Int(try r.take(UInt32.self))
        let efs = Int(try r.take(UInt32.self))
        let keepPruned = try r.take(UInt8.self)
        let keepFull = try r.take(UInt8.self)
        let zero = try r.take(UInt16.self)
        try need(keepPruned <= 1 && keepFull <= 1 && zero == 0, "flags")
        let sel = Double(bitPattern: try r.take(UInt64.self))
        _ = try r.take(UInt64.self)  // seed: any value
        let n64 = try r.take(UInt64.self)
        let u64 = try r.take(UInt64.self)
        let entry = try r.take(UInt64.self)
        let live64 = try r.take(UInt64.self)
        try need(r.pos == r.end, "PARM length")
        try need((2...256).contains(m) && efc >= m && efs >= 1 && sel >= 0 && sel <= 1, "parameters")
        try need(n64 < 1 << 32 && u64 <= 30 * n64 && live64 <= n64, "counts")
        try need(n64 == 0 || !c.untrained, "vectors stored with an untrained codec")
        let n = Int(n64), u = Int(u64)
        let hasFull = keepFull == 1 && c.storage != 0 && c.metric != 3
        try need((s["FULL"] != nil) == hasFull, "FULL presence")
        let sizes = ["KEYS": 8 * n, "LEVL": n, "STAT": n, "USTR": 4 * n, "VECT": n * c.stride,
                     "LNK0": n * (1 + 2 * m) * 4, "LNKU": u * (1 + m) * 4, "FULL": hasFull ? n * c.dimension * 4 : 0]
        for (t, range) in s where t != "PARM" { try need(range.count == sizes[t]!, "\(t) size") }
        let keys = try sec("KEYS"), levl = try sec("LEVL"), stat = try sec("STAT"), ustr = try sec("USTR")
        let lnk0 = try sec("LNK0"), lnku = try sec("LNKU")
        try rows(b, try sec("VECT"), n, c)
        if let full = s["FULL"] { try fullRows(b, full) }
        func level(_ i: Int) -> Int { Int(b[levl.lowerBound + i]) }
        // Levels and rows first, so that link targets can be checked against them.
        var prefix = 0
        var top = -1
        for i in 0..<n {
            try need(level(i) <= 30, "level of node \(i)")
            try need(Int(r.at(ustr.lowerBound + 4 * i, UInt32.self)) == prefix, "upper row of node \(i)")
            prefix += level(i)
            top = max(top, level(i))
        }
        try need(prefix == u, "upper row count")
        var live = 0
        var liveKeys = Set<UInt64>()
        for i in 0..<n {
            let state = b[stat.lowerBound + i]
            try need(state == 1 || state == 2, "state of node \(i)")
            if state == 1 {
                live += 1
                try need(liveKeys.insert(r.at(keys.lowerBound + 8 * i, UInt64.self)).inserted, "duplicate live key")
            }
            for layer in 0...level(i) {
                let row = layer == 0
                    ? lnk0.lowerBound + i * (1 + 2 * m) * 4
                    : lnku.lowerBound + (Int(r.at(ustr.lowerBound + 4 * i, UInt32.self)) + layer - 1) * (1 + m) * 4
                let count = Int(r.at(row, UInt32.self))
                try need(count <= (layer == 0 ? 2 * m : m), "link count of node \(i) on layer \(layer)")
                for j in 0..<count {
                    let t = Int(r.at(row + 4 * (1 + j), UInt32.self))
                    try need(t < n && level(t) >= layer, "node \(i) links to \(t), which is not on layer \(layer)")
                }
            }
        }
        try need(live == Int(live64), "live count")
        if n == 0 {
            try need(entry == .max, "entry of an empty index")
        } else {
            let id = Int(entry & 0xFFFF_FFFF)
            try need(Int(entry >> 32) == top && id < n && level(id) == top, "entry point")
        }
    }

    static func crc(_ b: UnsafeRawBufferPointer, _ range: Range<Int>) -> UInt32 {
        CRC32C.checksum(UnsafeRawBufferPointer(rebasing: b[range]))
    }
}
