import Foundation
import CKestrelKernels
import KestrelTensor

/// Exact nearest-neighbour search by scanning every vector.
///
/// Vectors sit in one 64-byte-aligned buffer (encoded by the chosen ``VectorStorageKind``); a
/// query is compared with all of them by the one-to-many SIMD kernels in chunks of 1024 rows
/// feeding a bounded heap. A batch of f32 queries under l2 / ip / cos goes through GEMM
/// (OpenBLAS or Accelerate) tile by tile: `‖q‖² + ‖x‖² − 2 q·x`, with the best `2k` candidates of
/// each query re-scored by the exact kernel, so results match the one-query path up to ties
/// closer than GEMM rounding (relative ~1e-6).
///
/// It is the recall oracle of ``HNSWIndex`` and the better choice for small or heavily
/// filtered sets. Removal moves the last vector into the hole (O(1)); re-adding a key
/// overwrites its vector in place.
///
/// **Thread-safety** (`@unchecked Sendable`; checked by a seeded stress test under
/// ThreadSanitizer and AddressSanitizer — Documentation/Reliability.md, "Concurrency"): every
/// method may be called from any thread at any time. A reader–writer lock: searches (single,
/// batch, filtered), `contains`, `count` and ``save(to:)`` share it; add, remove and training
/// hold it exclusively, so a search sees each mutation entirely or not at all, and a key whose
/// `remove` has returned is never returned by a later search.
public final class FlatIndex: VectorIndex, @unchecked Sendable {
    /// Components per vector (bits for hamming).
    public let dimension: Int
    /// The ranking distance.
    public let metric: DistanceMetric
    /// The codec vectors are stored with.
    public let storage: VectorStorageKind

    let lock = StructureLock()
    var codec: VectorCodec
    var scorer: Scorer
    var rows: MemoryRegion
    /// Squared norms of the stored f32 rows (GEMM path), else unused.
    var norms: MemoryRegion
    var keys: MemoryRegion
    var capacity = 0
    var rowCount = 0
    var keyMap: [UInt64: Int] = [:]
    let pool = ScratchPool()
    /// True for an index loaded with memory mapping: mutation throws.
    public internal(set) var isReadOnly = false

    /// Creates an empty exact index.
    /// - Throws: `invalidArgument` for a bad dimension or codec/metric combination;
    ///   `capacityExceeded` when `capacity` rows would not fit in physical memory (or the byte
    ///   count overflows) or past 2³² − 2 rows (row ids are 32-bit).
    public init(dimension: Int, metric: DistanceMetric = .l2Squared, storage: VectorStorageKind = .f32, capacity: Int = 0) throws(KestrelError) {
        try VectorCodec.validate(kind: storage, metric: metric, dimension: dimension)
        guard capacity >= 0 else { throw .invalidArgument(name: "capacity", reason: "must be ≥ 0") }
        guard capacity <= Self.maxRows else { throw .capacityExceeded(limit: Self.maxRows, requested: capacity) }
        self.dimension = dimension
        self.metric = metric
        self.storage = storage
        codec = VectorCodec(kind: storage, metric: metric, dimension: dimension)
        scorer = codec.scorer()
        rows = try MemoryRegion(zeroedBytes: 0)
        norms = rows
        keys = rows
        try lock.withExclusive { () throws(KestrelError) in try growLocked(max(capacity, 16)) }
    }

    public var count: Int { lock.withShared { rowCount } }

    public var bytesUsed: Int {
        lock.withShared {
            [rows, norms, keys].reduce(0) { $0 + ($1.isMapped ? 0 : $1.byteCount) } + keyMap.capacity * 20 + codec.offsets.count * 4
        }
    }

    var usesGEMM: Bool { storage == .f32 && metric != .hamming }

    /// Most rows an index holds: row ids travel as `UInt32` in the packed search heaps.
    static let maxRows = Int(UInt32.max) - 2

    func growLocked(_ n: Int) throws(KestrelError) {
        guard n > capacity else { return }
        guard n <= Self.maxRows else { throw .capacityExceeded(limit: Self.maxRows, requested: n) }
        // Rows, norms and keys together must fit; checked before any of them is reallocated.
        _ = try SizeCheck.bytes(n, codec.stride + 12)
        rows = try MemoryRegion(copying: rows.base, byteCount: rowCount * codec.stride, capacityBytes: n * codec.stride)
        norms = try MemoryRegion(copying: norms.base, byteCount: rowCount * 4, capacityBytes: n * 4)
        keys = try MemoryRegion(copying: keys.base, byteCount: rowCount * 8, capacityBytes: n * 8)
        capacity = n
    }

    // MARK: Mutation

    public func add(key: UInt64, vector: UnsafeBufferPointer<Float>) throws(KestrelError) {
        try add(keys: [key], vectors: vector, threads: 1)
    }

    /// Adds a batch (validated as a whole first). `threads` is accepted for protocol symmetry;
    /// encoding is a memory-bound copy done on the calling thread.
    public func add(keys newKeys: [UInt64], vectors src: UnsafeBufferPointer<Float>, threads: Int) throws(KestrelError) {
        guard !isReadOnly else { throw HNSWIndex.readOnlyError }
        guard threads >= 1 else { throw .invalidArgument(name: "threads", reason: "must be ≥ 1, got \(threads)") }
        let n = newKeys.count
        let d = dimension
        guard src.count == n * d else {
            throw .dimensionMismatch(expected: [n, d], actual: [src.count])
        }
        if n == 0 { return }
        if n > 1 && Set(newKeys).count != n { throw .invalidArgument(name: "keys", reason: "duplicate keys in one batch") }
        let row = UnsafeMutablePointer<Float>.allocate(capacity: d)
        defer { row.deallocate() }
        let base = src.baseAddress!
        for r in 0..<n { try codec.prepare(base + r * d, rowIndex: r, into: row) }
        var sample: [Float]? = nil
        if !codec.isTrained {
            let take = min(n, 65536)
            var s = [Float](repeating: 0, count: take * d)
            for i in 0..<take {
                let r = take == n ? i : i * n / take
                try s.withUnsafeMutableBufferPointer { (o) throws(KestrelError) in
                    try codec.prepare(base + r * d, rowIndex: r, into: o.baseAddress! + i * d)
                }
            }
            sample = s
        }
        try lock.withExclusive { () throws(KestrelError) in
            if let sample, !codec.isTrained {
                sample.withUnsafeBufferPointer { codec.train($0.baseAddress!, count: $0.count / d) }
                scorer = codec.scorer()
            }
            let fresh = newKeys.reduce(0) { $0 + (keyMap[$1] == nil ? 1 : 0) }
            if rowCount + fresh > capacity { try growLocked(max(rowCount + fresh, n > 1 ? 0 : min(capacity * 2, Self.maxRows))) }
            let stride = codec.stride
            let kp = keys.base.assumingMemoryBound(to: UInt64.self)
            let np = norms.base.assumingMemoryBound(to: Float.self)
            for r in 0..<n {
                try? codec.prepare(base + r * d, rowIndex: r, into: row)
                let slot: Int
                if let existing = keyMap[newKeys[r]] {
                    slot = existing
                } else {
                    slot = rowCount
                    rowCount += 1
                    keyMap[newKeys[r]] = slot
                }
                codec.encode(row, into: rows.base + slot * stride)
                kp[slot] = newKeys[r]
                np[slot] = usesGEMM ? kestrel_sumsq_f32(row, d) : 0
            }
        }
    }

    @discardableResult
    public func remove(key: UInt64) throws(KestrelError) -> Bool {
        guard !isReadOnly else { throw HNSWIndex.readOnlyError }
        return lock.withExclusive {
            guard let slot = keyMap.removeValue(forKey: key) else { return false }
            let last = rowCount - 1
            if slot != last {
                let stride = codec.stride
                (rows.base + slot * stride).copyMemory(from: rows.base + last * stride, byteCount: stride)
                let kp = keys.base.assumingMemoryBound(to: UInt64.self)
                let np = norms.base.assumingMemoryBound(to: Float.self)
                kp[slot] = kp[last]
                np[slot] = np[last]
                keyMap[kp[slot]] = slot
            }
            rowCount = last
            return true
        }
    }

    public func contains(key: UInt64) -> Bool { lock.withShared { keyMap[key] != nil } }

    // MARK: Search

    /// The `k` nearest vectors to `query` (exact), optionally only keys passing `filter`.
    /// - Throws: `invalidArgument` (k ≤ 0, zero query under cosine, non-binary hamming
    ///   component), `dimensionMismatch`, `nonFiniteValue`.
    /// - Complexity: O(count · dim) time, O(k) extra memory (pooled scratch).
    public func search(_ query: UnsafeBufferPointer<Float>, k: Int, filter: ((UInt64) -> Bool)?) throws(KestrelError) -> [SearchResult] {
        guard k > 0 else { throw .invalidArgument(name: "k", reason: "must be ≥ 1, got \(k)") }
        guard query.count == dimension else { throw .dimensionMismatch(expected: [dimension], actual: [query.count]) }
        return try lock.withShared { () throws(KestrelError) -> [SearchResult] in
            let scratch = pool.take(nodes: 0, bytes: scratchBytes)
            defer { pool.give(scratch) }
            return try searchLocked(query.baseAddress!, k: k, filter: filter, scratch: scratch)
        }
    }

    var codeOffset: Int { (dimension * 4 + 63) & ~63 }
    /// Prepared query, its code, then 1024 floats of chunk distances.
    var scratchBytes: Int { codeOffset + codec.stride + 64 + 4096 }
    static let chunk = 1024

    func searchLocked(_ query: UnsafePointer<Float>, k: Int, filter: ((UInt64) -> Bool)?, scratch: SearchScratch) throws(KestrelError) -> [SearchResult] {
        _ = scratch.begin(nodes: 0, bytes: scratchBytes, words: Self.chunk)
        let prepared = scratch.bytes.assumingMemoryBound(to: Float.self)
        try codec.prepare(query, rowIndex: 0, into: prepared)
        let qcode = scratch.bytes + codeOffset
        codec.encode(prepared, into: qcode)
        let distOffset = (codeOffset + codec.stride + 63) & ~63
        let dist = (scratch.bytes + distOffset).assumingMemoryBound(to: Float.self)
        var heap = scratch.results
        heap.clear()
        let kp = keys.base.assumingMemoryBound(to: UInt64.self)
        let stride = codec.stride
        var start = 0
        while start < rowCount {
            let n = min(Self.chunk, rowCount - start)
            scoreMany(UnsafeRawPointer(qcode), rows.base + start * stride, count: n, out: dist, ints: scratch.words)
            for i in 0..<n {
                let id = start + i
                if let filter, !filter(kp[id]) { continue }
                let p = pack(dist[i], UInt32(id))
                if heap.count < k {
                    heap.push(p)
                } else if p < heap.top {
                    heap.replaceTop(p)
                }
            }
            start += n
        }
        let sorted = heap.sortedAscending()
        let out = sorted.map { SearchResult(key: kp[Int(packedID($0))], distance: packedDistance($0)) }
        heap.clear()
        scratch.results = heap
        return out
    }

    /// Distances from an encoded query to `count` consecutive rows, via the one-to-many kernels.
    func scoreMany(_ q: UnsafeRawPointer, _ base: UnsafeRawPointer, count: Int, out: UnsafeMutablePointer<Float>, ints: UnsafeMutablePointer<UInt32>) {
        let d = dimension
        let strideBytes = codec.stride
        let isL2 = metric == .l2Squared
        let s = scorer
        var st = KESTREL_OK
        switch storage {
        case .f32:
            let fq = q.assumingMemoryBound(to: Float.self), fb = base.assumingMemoryBound(to: Float.self)
            st = isL2 ? kestrel_l2sq_f32_many(fq, fb, d, count, strideBytes / 4, out) : kestrel_dot_f32_many(fq, fb, d, count, strideBytes / 4, out)
        case .f16, .bf16:
            let hq = q.assumingMemoryBound(to: UInt16.self), hb = base.assumingMemoryBound(to: UInt16.self)
            if storage == .f16 {
                st = isL2 ? kestrel_l2sq_f16_many(hq, hb, d, count, strideBytes / 2, out) : kestrel_dot_f16_many(hq, hb, d, count, strideBytes / 2, out)
            } else {
                st = isL2 ? kestrel_l2sq_bf16_many(hq, hb, d, count, strideBytes / 2, out) : kestrel_dot_bf16_many(hq, hb, d, count, strideBytes / 2, out)
            }
        case .int8:
            let iq = q.assumingMemoryBound(to: Int8.self), ib = base.assumingMemoryBound(to: Int8.self)
            ints.withMemoryRebound(to: Int32.self, capacity: count) { o in
                st = isL2 ? kestrel_l2sq_i8_many(iq, ib, d, count, strideBytes, o) : kestrel_dot_i8_many(iq, ib, d, count, strideBytes, o)
                for i in 0..<count { out[i] = Float(o[i]) }
            }
        case .binary:
            st = kestrel_hamming_b1_many(q.assumingMemoryBound(to: UInt8.self), base.assumingMemoryBound(to: UInt8.self),
                                         codec.codeBytes, count, strideBytes, ints)
            for i in 0..<count { out[i] = Float(ints[i]) }
            return
        }
        // Arguments are built from validated sizes; a failure here is a bug, not bad input.
        assert(st == KESTREL_OK, "one-to-many kernel failed: \(st)")
        if s.a != 1 || s.b != 0 {
            for i in 0..<count { out[i] = s.a * out[i] + s.b }
        }
    }

    /// Searches a row-major batch on `threads` threads. f32 storage under l2/ip/cos uses GEMM
    /// tiles (64 queries × 4096 rows) with OpenBLAS kept to one thread meanwhile; other codecs
    /// run the one-query scan per row.
    /// - Throws: as ``search(_:k:filter:)`` plus `invalidArgument` for threads < 1 and
    ///   `dimensionMismatch` for a ragged batch.
    public func search(batch queries: UnsafeBufferPointer<Float>, k: Int, threads: Int, filter: (@Sendable (UInt64) -> Bool)?) throws(KestrelError) -> [[SearchResult]] {
        guard k > 0 else { throw .invalidArgument(name: "k", reason: "must be ≥ 1, got \(k)") }
        guard threads >= 1 else { throw .invalidArgument(name: "threads", reason: "must be ≥ 1, got \(threads)") }
        let d = dimension
        guard queries.count % d == 0 else { throw .dimensionMismatch(expected: [-1, d], actual: [queries.count]) }
        let nq = queries.count / d
        if nq == 0 { return [] }
        // Every heap below is sized by k: never ask for more than there are rows (or row ids).
        let k = min(k, Self.maxRows)
        // Validate and prepare (normalise) every query first.
        var prepared = [Float](repeating: 0, count: nq * d)
        try prepared.withUnsafeMutableBufferPointer { (p) throws(KestrelError) in
            for r in 0..<nq { try codec.prepare(queries.baseAddress! + r * d, rowIndex: r, into: p.baseAddress! + r * d) }
        }
        let out = UnsafeMutableBufferPointer<[SearchResult]>.allocate(capacity: nq)
        out.initialize(repeating: [])
        defer { out.deinitialize().deallocate() }
        let results = SendableBuffer(out)
        withBufferNoThrow(prepared) { pq in
            let qs = SendablePointer(pq.baseAddress!)
            lock.withShared {
                if usesGEMM && nq >= 8 && rowCount >= 64 && gemmSizesFit {
                    // parallelForEach holds BLAS at one thread: the tiles are the parallelism.
                    let tiles = (nq + Self.queryTile - 1) / Self.queryTile
                    parallelForEach(tiles, threads: min(threads, tiles)) { [self] tile, _ in
                        gemmTile(qs.pointer, tile: tile, nq: nq, k: k, filter: filter, into: results)
                    }
                } else {
                    let bytes = scratchBytes
                    parallelForEach(nq, threads: min(threads, nq), chunk: 16) { [self] i, _ in
                        let scratch = pool.take(nodes: 0, bytes: bytes)
                        results.buffer[i] = (try? searchLocked(qs.pointer + i * d, k: k, filter: filter, scratch: scratch)) ?? []
                        pool.give(scratch)
                    }
                }
            }
        }
        return Array(out)
    }

    static let queryTile = 64
    static let rowTile = 4096

    /// Whether the GEMM operands' dimension and row pitch fit BLAS's 32-bit sizes (else the
    /// batch takes the per-query scan).
    var gemmSizesFit: Bool { dimension <= Int(Int32.max) && codec.stride / 4 <= Int(Int32.max) }

    /// One tile of ≤ 64 prepared queries against every row via GEMM, exact re-scoring of the best 2k.
    func gemmTile(_ q: UnsafePointer<Float>, tile: Int, nq: Int, k: Int, filter: ((UInt64) -> Bool)?, into results: SendableBuffer<[SearchResult]>) {
        let d = dimension
        let q0 = tile * Self.queryTile
        let qn = min(Self.queryTile, nq - q0)
        let strideF = codec.stride / 4
        let k = min(k, rowCount)
        let keep = min(2 * k, rowCount)
        let scores = UnsafeMutablePointer<Float>.allocate(capacity: qn * Self.rowTile)
        defer { scores.deallocate() }
        var heaps = (0..<qn).map { _ in PackedHeap(capacity: keep + 1, isMax: true) }
        defer { heaps.forEach { $0.deallocate() } }
        let qnorm = (0..<qn).map { kestrel_sumsq_f32(q + (q0 + $0) * d, d) }
        let xb = rows.base.assumingMemoryBound(to: Float.self)
        let xn = norms.base.assumingMemoryBound(to: Float.self)
        let kp = keys.base.assumingMemoryBound(to: UInt64.self)
        var start = 0
        while start < rowCount {
            let n = min(Self.rowTile, rowCount - start)
            do {
                try BLAS.sgemm(transposeA: false, transposeB: true, m: qn, n: n, k: d, alpha: 1, a: q + q0 * d, lda: d,
                               b: xb + start * strideF, ldb: strideF, beta: 0, c: scores, ldc: n)
            } catch {
                // Unreachable while gemmSizesFit holds; if BLAS still refuses, answer the tile with
                // the exact per-query scan rather than trap or return partial scores.
                assertionFailure("GEMM sizes are checked by gemmSizesFit: \(error)")
                for j in 0..<qn {
                    let scratch = pool.take(nodes: 0, bytes: scratchBytes)
                    results.buffer[q0 + j] = (try? searchLocked(q + (q0 + j) * d, k: k, filter: filter, scratch: scratch)) ?? []
                    pool.give(scratch)
                }
                return
            }
            for j in 0..<qn {
                let row = scores + j * n
                for i in 0..<n {
                    let id = start + i
                    if let filter, !filter(kp[id]) { continue }
                    let dot = row[i]
                    let dist: Float
                    switch metric {
                    case .l2Squared: dist = max(0, qnorm[j] + xn[id] - 2 * dot)
                    case .innerProduct: dist = -dot
                    default: dist = 1 - dot
                    }
                    let p = pack(dist, UInt32(id))
                    if heaps[j].count < keep {
                        heaps[j].push(p)
                    } else if p < heaps[j].top {
                        heaps[j].replaceTop(p)
                    }
                }
            }
            start += n
        }
        let s = scorer
        for j in 0..<qn {
            let qp = UnsafeRawPointer(q + (q0 + j) * d)
            var sorted = heaps[j].sortedAscending()
            for i in 0..<sorted.count {
                let id = packedID(sorted[i])
                sorted[i] = pack(s(qp, UnsafeRawPointer(xb + Int(id) * strideF)), id)
            }
            sorted.sort()
            results.buffer[q0 + j] = sorted.prefix(k).map { SearchResult(key: kp[Int(packedID($0))], distance: packedDistance($0)) }
        }
    }
}

/// Runs `body` on an array's storage (no throw).
@inline(__always) func withBufferNoThrow<T, R>(_ a: [T], _ body: (UnsafeBufferPointer<T>) -> R) -> R {
    a.withUnsafeBufferPointer(body)
}
