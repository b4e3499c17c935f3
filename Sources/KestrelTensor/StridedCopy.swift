#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Copies between strided views and dense buffers, for any element size.
enum StridedCopy {
    /// Copies the view (`dims`, `strides` in elements, first element at `src`) into `dst`
    /// densely in row-major order. O(n); the innermost axis is a `memcpy` when its stride is 1.
    static func gather(from src: UnsafeRawPointer, dims: [Int], strides: [Int], elementSize: Int,
                       to dst: UnsafeMutableRawPointer) {
        let count = dims.reduce(1, *)
        if count == 0 { return }
        // Drop axes of extent 1 and merge axes that are contiguous with their inner neighbour.
        var d: [Int] = []
        var s: [Int] = []
        for (e, st) in zip(dims, strides) where e != 1 {
            if let lastE = d.last, let lastS = s.last, lastS == st * e {
                d[d.count - 1] = lastE * e
                s[s.count - 1] = st
            } else {
                d.append(e)
                s.append(st)
            }
        }
        if d.isEmpty {  // a single element
            memcpy(dst, src, elementSize)
            return
        }
        let inner = d[d.count - 1]
        let innerStride = s[s.count - 1] * elementSize
        let outer = count / inner
        let rank = d.count
        var index = [Int](repeating: 0, count: rank)
        var srcOffset = 0  // bytes
        var out = dst
        for _ in 0..<outer {
            let from = src + srcOffset
            if innerStride == elementSize {
                memcpy(out, from, inner * elementSize)
            } else {
                copyStrided(from, innerStride, out, inner, elementSize)
            }
            out += inner * elementSize
            // Advance the multi-index over the outer axes.
            var axis = rank - 2
            while axis >= 0 {
                index[axis] += 1
                srcOffset += s[axis] * elementSize
                if index[axis] < d[axis] { break }
                srcOffset -= d[axis] * s[axis] * elementSize
                index[axis] = 0
                axis -= 1
            }
        }
    }

    private static func copyStrided(_ src: UnsafeRawPointer, _ strideBytes: Int, _ dst: UnsafeMutableRawPointer,
                                    _ n: Int, _ elementSize: Int) {
        switch elementSize {
        case 4:
            let o = dst.assumingMemoryBound(to: UInt32.self)
            for i in 0..<n { o[i] = src.load(fromByteOffset: i * strideBytes, as: UInt32.self) }
        case 2:
            let o = dst.assumingMemoryBound(to: UInt16.self)
            for i in 0..<n { o[i] = src.load(fromByteOffset: i * strideBytes, as: UInt16.self) }
        default:
            for i in 0..<n {
                memcpy(dst + i * elementSize, src + i * strideBytes, elementSize)
            }
        }
    }

    /// Calls `body` with the element offset (in elements, relative to the first element) of
    /// every element of the view, in row-major order.
    static func forEachOffset(dims: [Int], strides: [Int], _ body: (Int) throws(KestrelError) -> Void) throws(KestrelError) {
        let count = dims.reduce(1, *)
        if count == 0 { return }
        let rank = dims.count
        var index = [Int](repeating: 0, count: rank)
        var off = 0
        for _ in 0..<count {
            try body(off)
            var axis = rank - 1
            while axis >= 0 {
                index[axis] += 1
                off += strides[axis]
                if index[axis] < dims[axis] { break }
                off -= dims[axis] * strides[axis]
                index[axis] = 0
                axis -= 1
            }
        }
    }
}
