import ArgumentParser
import Foundation
import Kestrel
import KestrelTensor
import KestrelVectorIndex

/// `ann-bench` refuses, naming the flag, every input that would make its numbers wrong or
/// meaningless (a recall against another metric's truth, an ignored flag, a k past the data)
/// or that could not be served (sizes past physical memory).
extension AnnBenchCommand {
    /// Flags checked alike in file and curve mode.
    func checkCommonFlags() throws {
        guard k >= 1 else { throw ValidationError("--k must be ≥ 1, got \(k)") }
        guard (1...Parallel.maxThreads).contains(buildThreads) else {
            throw ValidationError("--build-threads must be in 1...\(Parallel.maxThreads) on this machine, got \(buildThreads)")
        }
        guard latencyQueries >= 0 else { throw ValidationError("--latency-queries must be ≥ 0, got \(latencyQueries)") }
        guard repeats >= 1 else { throw ValidationError("--repeat must be ≥ 1, got \(repeats)") }
        guard rerankDepth >= 0 else { throw ValidationError("--rerank-depth must be ≥ 0, got \(rerankDepth)") }
        if let m, m < 2 { throw ValidationError("--M must be ≥ 2, got \(m)") }
        if let efConstruction, efConstruction < 1 { throw ValidationError("--ef-construction must be ≥ 1, got \(efConstruction)") }
    }

    /// File mode: flags that only mean something beside others, or contradict each other.
    func checkFileModeFlags() throws {
        try checkCommonFlags()
        if loadIndex == nil {
            if mapped { throw ValidationError("--mapped applies only with --load-index") }
            if mapFull { throw ValidationError("--map-full applies only with --load-index") }
        } else {
            if mapped && mapFull { throw ValidationError("--map-full applies only without --mapped (--mapped already maps everything)") }
            if efConstruction != nil { throw ValidationError("--ef-construction has no effect with --load-index (the index is already built)") }
            if keepPruned { throw ValidationError("--keep-pruned has no effect with --load-index (the index is already built)") }
            if buildThreadsOption != nil { throw ValidationError("--build-threads has no effect with --load-index (the index is already built)") }
            if let r = reorderOption {
                throw ValidationError("--\(r ? "" : "no-")reorder has no effect with --load-index (the index is already built)")
            }
        }
    }

    /// Every search thread count must be one the library actually starts (it caps the rest).
    func checkThreadCounts(_ counts: [Int]) throws {
        if let t = counts.first(where: { $0 > Parallel.maxThreads }) {
            throw ValidationError("--threads \(t) exceeds the \(Parallel.maxThreads) threads a search starts on this machine")
        }
    }

    /// Empty sets give no recall; a k past the base rows gives a recall that cannot reach 1.
    func checkSetSizes(baseRows: Int, queryRows: Int) throws {
        guard baseRows > 0 else { throw ValidationError("--base \(base ?? "") holds no vectors") }
        guard queryRows > 0 else { throw ValidationError("--queries \(queries ?? "") holds no vectors") }
        guard k <= baseRows else { throw ValidationError("--k \(k) exceeds the \(baseRows) base vectors") }
    }

    /// A ground truth must cover every query with at least k ids, each a base row.
    func checkGroundTruth(_ truth: DatasetMatrix<Int32>, queryRows: Int, baseRows: Int) throws {
        guard truth.rows >= queryRows else {
            throw ValidationError("--ground-truth has \(truth.rows) rows for \(queryRows) queries")
        }
        guard truth.dimension >= k else {
            throw ValidationError("--ground-truth has \(truth.dimension) neighbours per query, fewer than --k \(k)")
        }
        for q in 0..<queryRows {
            for j in 0..<k {
                let id = truth.values[q * truth.dimension + j]
                guard id >= 0 && Int(id) < baseRows else {
                    throw ValidationError("--ground-truth row \(q) column \(j) holds id \(id), not a row of the \(baseRows) base vectors")
                }
            }
        }
    }

    /// A loaded index keeps its own metric, storage and graph: a flag asking for others would be ignored.
    func checkLoadedIndex(_ index: HNSWIndex, path: String) throws {
        if let metric, DistanceMetric(name: metric) != index.metric {
            throw ValidationError("--metric \(metric) contradicts \(path), built with metric \(index.metric.rawValue) (omit --metric to use it)")
        }
        if let storage, VectorStorageKind(rawValue: storage) != index.storage {
            throw ValidationError("--storage \(storage) contradicts \(path), which stores \(index.storage.rawValue) (omit --storage)")
        }
        if let m, m != index.parameters.M {
            throw ValidationError("--M \(m) contradicts \(path), built with M \(index.parameters.M) (omit --M)")
        }
        if rerank && !index.parameters.keepFullPrecision {
            throw ValidationError("--rerank needs kept f32 vectors, which \(path) does not hold")
        }
    }

    /// Curve mode: every size is checked before the first one runs (each is built in memory).
    func checkCurveSizes(_ sizes: [Int]) throws {
        for n in sizes {
            guard k <= n else { throw ValidationError("--k \(k) exceeds --curve size \(n)") }
            do {
                // Vectors held three times (data, exact index, HNSW index).
                _ = try SizeCheck.bytes(n, curveDim, 12)
            } catch {
                throw ValidationError("--curve \(n) × --curve-dim \(curveDim): \(error)")
            }
        }
        do {
            _ = try SizeCheck.bytes(curveQueries, curveDim, 4)
            _ = try SizeCheck.bytes(curveQueries, k, MemoryLayout<SearchResult>.stride)
        } catch {
            throw ValidationError("--curve-queries \(curveQueries) × --curve-dim \(curveDim) / --k \(k): \(error)")
        }
    }
}
