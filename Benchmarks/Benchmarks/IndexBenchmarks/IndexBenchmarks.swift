import Benchmark
import KestrelBenchmarkSupport
import KestrelVectorIndex

// KestrelVectorIndex re-exports modules that also define `blackHole`; the harness's is used here.
import func Benchmark.blackHole

// KestrelVectorIndex re-exports KestrelTensor, which has its own AlignedBuffer and SplitMix64: the
// benchmark support's are named by module below.

/// Vector-index benchmarks: exact search (FlatIndex, one query and a batch) and HNSW (search at
/// a fixed ef, and insertion). Indexes and queries are built in each benchmark's setup from
/// ``IndexData`` (seeded), outside the measurement; searches run on one thread.
///
/// Names are `<type>.<operation>.<N>x<dim>[.<parameters>]`. A search returns one result array
/// per query, so a search allocates a small fixed number of times: `mallocCountTotal` is checked
/// against `Thresholds/` with zero tolerance, like the kernels, to catch any allocation that
/// starts to scale with the index.
let benchmarks: @Sendable () -> Void = {
    BenchmarkDefaults.install()
    let n = IndexData.count, d = IndexData.dimension, k = IndexData.k

    Benchmark("FlatIndex.search.\(n)x\(d).k\(k)") { benchmark, state in
        var i = 0
        for _ in benchmark.scaledIterations {
            blackHole(try state.flat.search(state.query(i), k: k, filter: nil))
            i &+= 1
        }
    } setup: { try FlatState() }

    Benchmark("FlatIndex.searchBatch.\(n)x\(d).q\(IndexData.queries).k\(k)") { benchmark, state in
        for _ in benchmark.scaledIterations {
            blackHole(try state.flat.search(batch: state.queries.all, k: k, threads: 1, filter: nil))
        }
    } setup: { try FlatState() }

    Benchmark("HNSWIndex.search.\(n)x\(d).M\(IndexData.M).ef\(IndexData.ef).k\(k)") { benchmark, state in
        var i = 0
        for _ in benchmark.scaledIterations {
            blackHole(try state.hnsw.search(state.query(i), k: k, ef: IndexData.ef))
            i &+= 1
        }
    } setup: { try HNSWState() }

    // Each iteration fills a fresh index (created before the measurement starts), so every
    // iteration does the same work and allocates the same.
    Benchmark("HNSWIndex.add.\(IndexData.addCount)x\(d).M\(IndexData.M).efC\(IndexData.efConstruction)") { benchmark, state in
        for _ in benchmark.scaledIterations {
            let index = try IndexData.emptyHNSW(capacity: IndexData.addCount)
            benchmark.startMeasurement()
            try index.add(keys: state.keys, vectors: state.vectors.all, threads: 1)
            benchmark.stopMeasurement()
            blackHole(index)
        }
    } setup: { AddState() }
}

/// Sizes and the seeded data of every index benchmark: `count` vectors of `dimension` drawn
/// around `clusters` centres (uniform centres in [-1, 1), uniform noise of ±0.3), queries from
/// the same mixture.
enum IndexData {
    static let count = 10_000
    static let dimension = 64
    static let clusters = 32
    static let queries = 100
    static let k = 10
    static let M = 16
    static let efConstruction = 100
    static let ef = 64
    static let addCount = 1_000

    /// `rows` clustered row-major vectors from `seed`.
    static func clustered(rows: Int, seed: UInt64) -> KestrelBenchmarkSupport.AlignedBuffer<Float> {
        var rng = KestrelBenchmarkSupport.SplitMix64(seed: 11)
        let centres = KestrelBenchmarkSupport.AlignedBuffer<Float>(count: clusters * dimension) { _ in rng.nextSignedUnit() }
        var draw = KestrelBenchmarkSupport.SplitMix64(seed: seed)
        var centre = 0
        return KestrelBenchmarkSupport.AlignedBuffer<Float>(count: rows * dimension) { i in
            if i % dimension == 0 { centre = Int(draw.next() % UInt64(clusters)) }
            return centres.pointer[centre * dimension + i % dimension] + 0.3 * draw.nextSignedUnit()
        }
    }

    static func keys(_ n: Int) -> [UInt64] { (0..<n).map { UInt64($0) } }

    static func emptyHNSW(capacity: Int) throws -> HNSWIndex {
        try HNSWIndex(dimension: dimension, parameters: HNSWParameters(M: M, efConstruction: efConstruction), capacity: capacity)
    }
}

/// A filled FlatIndex and the queries.
final class FlatState: @unchecked Sendable {
    let flat: FlatIndex
    let queries = IndexData.clustered(rows: IndexData.queries, seed: 2)

    init() throws {
        flat = try FlatIndex(dimension: IndexData.dimension, capacity: IndexData.count)
        let base = IndexData.clustered(rows: IndexData.count, seed: 1)
        try flat.add(keys: IndexData.keys(IndexData.count), vectors: base.all, threads: 1)
    }

    func query(_ i: Int) -> UnsafeBufferPointer<Float> { queries.row(i % IndexData.queries, IndexData.dimension) }
}

/// A built HNSW index and the queries.
final class HNSWState: @unchecked Sendable {
    let hnsw: HNSWIndex
    let queries = IndexData.clustered(rows: IndexData.queries, seed: 2)

    init() throws {
        hnsw = try IndexData.emptyHNSW(capacity: IndexData.count)
        let base = IndexData.clustered(rows: IndexData.count, seed: 1)
        try hnsw.add(keys: IndexData.keys(IndexData.count), vectors: base.all, threads: 1)
    }

    func query(_ i: Int) -> UnsafeBufferPointer<Float> { queries.row(i % IndexData.queries, IndexData.dimension) }
}

/// The vectors inserted by the add benchmark.
final class AddState: @unchecked Sendable {
    let keys = IndexData.keys(IndexData.addCount)
    let vectors = IndexData.clustered(rows: IndexData.addCount, seed: 3)
}

extension KestrelBenchmarkSupport.AlignedBuffer where Element == Float {
    /// The whole buffer.
    var all: UnsafeBufferPointer<Float> { UnsafeBufferPointer(start: readOnly, count: count) }

    /// Row `i` of a row-major matrix with `width` columns.
    func row(_ i: Int, _ width: Int) -> UnsafeBufferPointer<Float> {
        UnsafeBufferPointer(start: readOnly + i * width, count: width)
    }
}
