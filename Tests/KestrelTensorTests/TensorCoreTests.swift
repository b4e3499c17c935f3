import KestrelTensor
import Testing
import _KestrelTestSupport

@Suite struct ShapeAndDTypeTests {
    @Test func byteSizes() {
        #expect(DType.allCases.map(\.byteSize) == [4, 2, 2, 1, 1])
        #expect(DType.allCases.filter(\.isFloatingPoint) == [.f32, .f16, .bf16])
    }

    @Test func countsAndStrides() throws {
        let s = try Shape(2, 3, 4)
        #expect(s.elementCount == 24 && s.rank == 3)
        #expect(s.contiguousStrides == [12, 4, 1])
        #expect(s.description == "[2, 3, 4]")
        #expect(Shape.scalar.elementCount == 1 && Shape.scalar.contiguousStrides == [])
        let empty = try Shape(3, 0, 5)
        #expect(empty.isEmpty && empty.elementCount == 0)
        #expect(empty.contiguousStrides == [5, 5, 1])
    }

    @Test func badShapesThrow() {
        let e1 = #expect(throws: KestrelError.self) { try Shape(2, -1) }
        #expect({ if case .invalidArgument(name: "shape", reason: _)? = e1 { true } else { false } }(), "\(String(describing: e1))")
        let negative = #expect(throws: KestrelError.self) { try Shape([2, -3]) }
        #expect({ if case .invalidArgument(name: "shape", reason: _)? = negative { true } else { false } }(), "\(String(describing: negative))")
        let e2 = #expect(throws: KestrelError.self) { try Shape(Int.max, 2) }
        #expect({ if case .invalidArgument(name: "shape", reason: _)? = e2 { true } else { false } }(), "\(String(describing: e2))")
        let e3 = #expect(throws: KestrelError.self) { try Shape(1 << 40, 1 << 40) }
        #expect({ if case .invalidArgument(name: "shape", reason: _)? = e3 { true } else { false } }(), "\(String(describing: e3))")
        // A zero extent does not excuse absurd ones (strides would overflow).
        let e4 = #expect(throws: KestrelError.self) { try Shape(0, Int.max, Int.max) }
        #expect({ if case .invalidArgument(name: "shape", reason: _)? = e4 { true } else { false } }(), "\(String(describing: e4))")
        let e5 = #expect(throws: KestrelError.self) { try Shape(2).extent(1) }
        #expect({ if case .invalidArgument(name: "axis", reason: _)? = e5 { true } else { false } }(), "\(String(describing: e5))")
        // An element count that fits Int but whose bytes do not.
        let e6 = #expect(throws: KestrelError.self) { try Tensor.zeros([Int.max / 2]) }
        #expect(e6 == .capacityExceeded(limit: Int.max, requested: 4611686018427387903))
        let e7 = #expect(throws: KestrelError.self) { try Tensor.zeros([1 << 62], dtype: .int8) }
        #expect(e7 == .capacityExceeded(limit: 0, requested: 4611686018427387904))
    }
}

@Suite struct TensorCreationTests {
    @Test func fromArraysOfEveryType() throws {
        let f = try Tensor([1, 2, 3, 4, 5, 6] as [Float], shape: [2, 3])
        #expect(f.dtype == .f32 && f.isContiguous && f.strides == [3, 1])
        #expect(try f.element(at: [1, 2], as: Float.self) == 6)
        let i = try Tensor([-128, 0, 127] as [Int8], shape: [3])
        #expect(i.dtype == .int8 && i.scalars() == [-128, 0, 127])
        let u = try Tensor([0, 255] as [UInt8], shape: [2])
        #expect(try u.toArray(of: UInt8.self) == [0, 255])
        let h = try Tensor([0x3C00, 0xC000] as [UInt16], shape: [2])  // f16 1.0, -2.0
        #expect(h.dtype == .f16 && h.scalars() == [1, -2])
        let b = try Tensor([0x3F80] as [UInt16], shape: [1], dtype: .bf16)  // bf16 1.0
        #expect(b.scalars() == [1])
        let e8 = #expect(throws: KestrelError.self) { try Tensor([1] as [UInt16], shape: [1], dtype: .int8) }
        #expect({ if case .invalidArgument(name: "dtype", reason: _)? = e8 { true } else { false } }(), "\(String(describing: e8))")
        #expect(try Tensor(scalar: 2.5).scalars() == [2.5])
    }

    @Test func countMismatchNamesShape() {
        let e = #expect(throws: KestrelError.self) { try Tensor([1, 2, 3] as [Float], shape: [2, 2]) }
        #expect(e == .dimensionMismatch(expected: [2, 2], actual: [3]))
    }

    @Test func zerosFilledRandom() throws {
        #expect(try Tensor.zeros([2, 2]).scalars() == [0, 0, 0, 0])
        #expect(try Tensor.filled(1.5, shape: [3]).scalars() == [1.5, 1.5, 1.5])
        #expect(try Tensor.filled(200.7, shape: [2], dtype: .int8).scalars() == [127, 127])
        #expect(try Tensor.filled(2.5, shape: [1], dtype: .uint8).scalars() == [2])  // ties to even
        let e9 = #expect(throws: KestrelError.self) { try Tensor.filled(.nan, shape: [1], dtype: .int8) }
        #expect(e9 == .nonFiniteValue(index: 0))
        let a = try Tensor.random([4, 5], seed: 7), b = try Tensor.random([4, 5], seed: 7)
        #expect(a.scalars() == b.scalars())
        #expect(try Tensor.random([4, 5], seed: 8).scalars() != a.scalars())
        #expect(a.scalars().allSatisfy { $0 >= -1 && $0 <= 1 })
        let r = try Tensor.random([1000], seed: 1, in: 2...3)
        #expect(r.scalars().allSatisfy { $0 >= 2 && $0 <= 3 })
        let e10 = #expect(throws: KestrelError.self) { try Tensor.random([2], seed: 1, in: -Float.infinity...0) }
        #expect({ if case .invalidArgument(name: "range", reason: _)? = e10 { true } else { false } }(), "\(String(describing: e10))")
        #expect(try Tensor.zeros([0, 3]).elementCount == 0)
    }

    @Test func storageIsAligned() throws {
        for n in [0, 1, 3, 17, 1000] {
            let t = try Tensor.zeros([n])
            #expect(Int(bitPattern: t.storageAddress) % AlignedBuffer.alignment == 0)
        }
        let e11 = #expect(throws: KestrelError.self) { try AlignedBuffer(byteCount: -1) }
        #expect({ if case .invalidArgument(name: "byteCount", reason: _)? = e11 { true } else { false } }(), "\(String(describing: e11))")
    }
}

@Suite struct TensorAccessTests {
    @Test func indexErrorsNeverCrash() throws {
        var t = try Tensor.zeros([2, 3])
        let e12 = #expect(throws: KestrelError.self) { try t.scalar(at: [2, 0]) }
        #expect({ if case .invalidArgument(name: "indices", reason: _)? = e12 { true } else { false } }(), "\(String(describing: e12))")
        let e13 = #expect(throws: KestrelError.self) { try t.scalar(at: [0, -1]) }
        #expect({ if case .invalidArgument(name: "indices", reason: _)? = e13 { true } else { false } }(), "\(String(describing: e13))")
        let e14 = #expect(throws: KestrelError.self) { try t.scalar(at: [0]) }
        #expect(e14 == .dimensionMismatch(expected: [2, 3], actual: [0]))
        let e15 = #expect(throws: KestrelError.self) { try t.setScalar(1, at: [0, 3]) }
        #expect({ if case .invalidArgument(name: "indices", reason: _)? = e15 { true } else { false } }(), "\(String(describing: e15))")
        let e16 = #expect(throws: KestrelError.self) { try t.element(at: [0, 0], as: Int8.self) }
        #expect({ if case .invalidArgument(name: "as", reason: _)? = e16 { true } else { false } }(), "\(String(describing: e16))")
        let e17 = #expect(throws: KestrelError.self) { try t.setElement(Int8(1), at: [0, 0]) }
        #expect({ if case .invalidArgument(name: "value", reason: _)? = e17 { true } else { false } }(), "\(String(describing: e17))")
        try t.setScalar(4, at: [1, 2])
        #expect(try t.scalar(at: [1, 2]) == 4)
        var q = try Tensor.zeros([2], dtype: .int8)
        try q.setScalar(-300, at: [0])
        #expect(try q.element(at: [0], as: Int8.self) == -128)
        let e18 = #expect(throws: KestrelError.self) { try q.setScalar(.infinity, at: [1]) }
        #expect(e18 == .nonFiniteValue(index: 0))
    }

    @Test func bufferPointerAccess() throws {
        var t = try Tensor([1, 2, 3, 4, 5, 6] as [Float], shape: [2, 3])
        let sum = try t.withUnsafeBufferPointer { $0.reduce(0, +) }
        #expect(sum == 21)
        try t.withUnsafeMutableBufferPointer { buf in for i in buf.indices { buf[i] *= 2 } }
        #expect(t.scalars() == [2, 4, 6, 8, 10, 12])
        // A non-contiguous view reads through a gathered copy, in row-major order of the view.
        let tt = try t.transposed()
        #expect(try tt.withUnsafeBufferPointer { Array($0) } == [2, 8, 4, 10, 6, 12])
        let i8 = try Tensor([1, 2] as [Int8], shape: [2])
        let e19 = #expect(throws: KestrelError.self) { try i8.withUnsafeBufferPointer { _ in () } }
        #expect({ if case .invalidArgument(name: "as", reason: _)? = e19 { true } else { false } }(), "\(String(describing: e19))")
        #expect(try i8.withUnsafeBufferPointer(as: Int8.self) { Array($0) } == [1, 2])
    }
}

@Suite struct TensorViewTests {
    @Test func slicesShareStorage() throws {
        let t = try Tensor.random([4, 6], seed: 1)
        let rows = try t.slice(axis: 0, 1..<3)
        #expect(rows.sharesStorage(with: t) && rows.storageAddress == t.storageAddress)
        #expect(rows.shape.dims == [2, 6] && rows.offset == 6 && rows.isContiguous)
        // The first element of the slice lives 6 floats into the parent's buffer.
        let parentBase = try t.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress!) }
        let sliceBase = try rows.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress!) }
        #expect(sliceBase == parentBase + 6 * 4)
        let cols = try t.slice(axis: 1, 2..<5)
        #expect(cols.sharesStorage(with: t) && !cols.isContiguous && cols.strides == [6, 1])
        let expected = try t.scalar(at: [3, 2])
        #expect(try cols.scalar(at: [3, 0]) == expected)
        let row = try t.select(axis: 0, index: 3)
        #expect(row.storageAddress == t.storageAddress && row.shape.dims == [6])
        #expect(row.scalars() == Array(t.scalars()[18..<24]))
        let col = try t.select(axis: 1, index: 5)
        #expect(col.sharesStorage(with: t) && col.strides == [6])
        #expect(try t.slice(axis: 0, 4..<4).elementCount == 0)
        let e20 = #expect(throws: KestrelError.self) { try t.slice(axis: 0, 2..<5) }
        #expect({ if case .invalidArgument(name: "range", reason: _)? = e20 { true } else { false } }(), "\(String(describing: e20))")
        let e21 = #expect(throws: KestrelError.self) { try t.slice(axis: 2, 0..<1) }
        #expect({ if case .invalidArgument(name: "axis", reason: _)? = e21 { true } else { false } }(), "\(String(describing: e21))")
        let e22 = #expect(throws: KestrelError.self) { try t.select(axis: 1, index: 6) }
        #expect({ if case .invalidArgument(name: "index", reason: _)? = e22 { true } else { false } }(), "\(String(describing: e22))")
        let e23 = #expect(throws: KestrelError.self) { try t.select(axis: -1, index: 0) }
        #expect({ if case .invalidArgument(name: "axis", reason: _)? = e23 { true } else { false } }(), "\(String(describing: e23))")
        for v in [rows, cols, row, col] { #expect(v.checkInvariants()) }
    }

    @Test func transposeAndPermuteShareStorage() throws {
        let t = try Tensor.random([2, 3, 4], seed: 2)
        let p = try t.permuted([2, 0, 1])
        #expect(p.storageAddress == t.storageAddress)
        #expect(p.shape.dims == [4, 2, 3] && p.strides == [1, 12, 4])
        let expected = try t.scalar(at: [1, 2, 3])
        #expect(try p.scalar(at: [3, 1, 2]) == expected)
        let tr = try t.transposed()
        #expect(tr.shape.dims == [2, 4, 3] && tr.sharesStorage(with: t))
        #expect(try tr.transposed().isContiguous)
        let e24 = #expect(throws: KestrelError.self) { try t.permuted([0, 0, 1]) }
        #expect({ if case .invalidArgument(name: "axes", reason: _)? = e24 { true } else { false } }(), "\(String(describing: e24))")
        let e25 = #expect(throws: KestrelError.self) { try t.permuted([0, 1]) }
        #expect({ if case .invalidArgument(name: "axes", reason: _)? = e25 { true } else { false } }(), "\(String(describing: e25))")
        let e26 = #expect(throws: KestrelError.self) { try Tensor.zeros([3]).transposed() }
        #expect({ if case .invalidArgument(name: "self", reason: _)? = e26 { true } else { false } }(), "\(String(describing: e26))")
    }

    @Test func reshapeViewsOrCopies() throws {
        let t = try Tensor.random([2, 6], seed: 3)
        let r = try t.reshaped([3, -1])
        #expect(r.shape.dims == [3, 4] && r.sharesStorage(with: t) && r.scalars() == t.scalars())
        // Non-contiguous: documented to copy.
        let tr = try t.transposed()
        let flat = try tr.reshaped([12])
        #expect(!flat.sharesStorage(with: t) && flat.scalars() == tr.scalars())
        let reshape = #expect(throws: KestrelError.self) { try t.reshaped([5, 2]) }
        #expect(reshape == .dimensionMismatch(expected: [2, 6], actual: [5, 2]))
        let e27 = #expect(throws: KestrelError.self) { try t.reshaped([-1, -1]) }
        #expect({ if case .invalidArgument(name: "shape", reason: _)? = e27 { true } else { false } }(), "\(String(describing: e27))")
        let e28 = #expect(throws: KestrelError.self) { try t.reshaped([-1, 5]) }
        #expect(e28 == .dimensionMismatch(expected: [2, 6], actual: [-1, 5]))
        let e29 = #expect(throws: KestrelError.self) { try t.reshaped([-2, -6]) }
        #expect({ if case .invalidArgument(name: "shape", reason: _)? = e29 { true } else { false } }(), "\(String(describing: e29))")
        #expect(try Tensor.zeros([0, 4]).reshaped([4, 0, 7]).elementCount == 0)
        let e30 = #expect(throws: KestrelError.self) { try Tensor.zeros([0, 4]).reshaped([-1, 0]) }
        #expect(e30 == .dimensionMismatch(expected: [0, 4], actual: [-1, 0]))
    }

    @Test func contiguousCopiesOnlyWhenNeeded() throws {
        let t = try Tensor.random([3, 5], seed: 4)
        #expect(try t.contiguous().sharesStorage(with: t))
        let c = try t.transposed().contiguous()
        #expect(!c.sharesStorage(with: t) && c.isContiguous && c.strides == [3, 1])
        let tt = try t.transposed()
        #expect(c.scalars() == tt.scalars())
        let sel = try Tensor.random([3, 4, 2], seed: 5).select(axis: 2, index: 1)
        #expect(try sel.contiguous().scalars() == sel.scalars())
    }

    @Test func copyOnWriteLeavesOtherViewsAlone() throws {
        let base = try Tensor([1, 2, 3, 4, 5, 6] as [Float], shape: [2, 3])
        var view = try base.slice(axis: 1, 1..<3)
        try view.setScalar(100, at: [0, 0])
        #expect(base.scalars() == [1, 2, 3, 4, 5, 6])
        #expect(view.scalars() == [100, 3, 5, 6] && !view.sharesStorage(with: base) && view.isContiguous)
        var copy = base
        #expect(copy.sharesStorage(with: base))
        try copy.withUnsafeMutableBufferPointer { $0[0] = -1 }
        #expect(base.scalars()[0] == 1 && copy.scalars()[0] == -1)
        // A uniquely referenced view is written in place, keeping its layout.
        var lone = try Tensor.random([4, 4], seed: 9).transposed()
        let before = lone.storageAddress
        try lone.setScalar(7, at: [1, 2])
        #expect(lone.storageAddress == before)
        #expect(try lone.scalar(at: [1, 2]) == 7)
    }
}

@Suite struct TensorConversionTests {
    @Test func roundTripsThroughHalfTypes() throws {
        let values: [Float] = [0, 1, -2.5, 65504, 1e-7, .infinity, -.infinity, 3.140625]
        let t = try Tensor(values, shape: [8])
        let h = try t.converted(to: .f16)
        #expect(h.dtype == .f16)
        #expect(try h.converted(to: .f32).scalars() == [0, 1, -2.5, 65504, Float(Float16(1e-7)), .infinity, -.infinity, 3.140625])
        let b = try t.converted(to: .bf16).converted(to: .f32).scalars()
        #expect(b[1] == 1 && b[2] == -2.5 && b[5] == .infinity)
        #expect(try Tensor([Float.nan], shape: [1]).converted(to: .f16).converted(to: .f32).scalars()[0].isNaN)
        // f16 -> bf16 goes through f32 with one rounding.
        #expect(try h.converted(to: .bf16).converted(to: .f32).scalars()[2] == -2.5)
    }

    @Test func toIntegersRoundAndSaturate() throws {
        let t = try Tensor([-1000, -1.5, -0.5, 0.5, 1.5, 126.6, 1000] as [Float], shape: [7])
        #expect(try t.converted(to: .int8).toArray(of: Int8.self) == [-128, -2, 0, 0, 2, 127, 127])
        #expect(try t.converted(to: .uint8).toArray(of: UInt8.self) == [0, 0, 0, 0, 2, 127, 255])
        #expect(try t.converted(to: .int8).converted(to: .f16).scalars() == [-128, -2, 0, 0, 2, 127, 127])
        let bad = try Tensor([1, .nan] as [Float], shape: [2])
        #expect(throws: KestrelError.nonFiniteValue(index: 1)) { try bad.converted(to: .int8) }
    }

    @Test func convertsViews() throws {
        let t = try Tensor.random([3, 4], seed: 11).transposed()
        let h = try t.converted(to: .f16)
        #expect(h.isContiguous && h.shape.dims == [4, 3])
        expectClose(try h.converted(to: .f32), t, rel: 1.0 / 2048, abs: 0, "f16 of a view")
        #expect(try t.converted(to: .f32).isContiguous)
    }
}
