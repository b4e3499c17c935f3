import Foundation
import KestrelKernels
import KestrelTensor

/// Everything an adapter file holds.
struct AdapterFileState {
    var dIn: Int, dOut: Int, rank: Int
    var alpha: Float
    var form: AdapterForm
    var training: AdapterTraining
    var ewc: EWCConfiguration?
    var consolidated: Bool
    var steps: Int
    /// θ, m, v, F, F*, θ* — n floats each.
    var arrays: [Float]
}

/// The adapter file (version 1), all little-endian:
///
///     0   magic "KSTLORA\0"            8 bytes
///     8   version u32 = 1              12  form u32 (0 residual, 1 linear)
///     16  d_in u64   24 d_out u64      32  rank u64
///     40  alpha f32  44 optimizer u32 (0 SGD, 1 momentum, 2 Adam)
///     48  lr f32     52 beta1 / μ f32  56  beta2 f32   60 epsilon f32   64 clip f32 (0: none)
///     68  flags u32 (1: EWC on, 2: consolidated)   72 λ f32   76 γ f32
///     80  steps u64  88 reserved u64 = 0
///     96  θ, m, v, F, F*, θ*: 6 · r · (d_in + d_out) f32
///     end CRC32C u32 of every byte before it
enum AdapterFile {
    static let magic: [UInt8] = Array("KSTLORA".utf8) + [0]
    static let version: UInt32 = 1
    static let headerSize = 96

    static func write(_ s: AdapterFileState, to url: URL) throws(KestrelError) {
        var b = [UInt8]()
        b.reserveCapacity(headerSize + s.arrays.count * 4 + 4)
        b += magic
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { b += $0 } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { b += $0 } }
        func f32(_ v: Float) { u32(v.bitPattern) }
        u32(version)
        u32(UInt32(s.form.rawValue))
        u64(UInt64(s.dIn))
        u64(UInt64(s.dOut))
        u64(UInt64(s.rank))
        f32(s.alpha)
        let (kind, p1, p2, p3): (UInt32, Float, Float, Float)
        switch s.training.optimizer {
        case .sgd: (kind, p1, p2, p3) = (0, 0, 0, 0)
        case .momentum(let mu): (kind, p1, p2, p3) = (1, mu, 0, 0)
        case .adam(let b1, let b2, let e): (kind, p1, p2, p3) = (2, b1, b2, e)
        }
        u32(kind)
        f32(s.training.learningRate)
        f32(p1)
        f32(p2)
        f32(p3)
        f32(s.training.clipNorm ?? 0)
        u32((s.ewc != nil ? 1 : 0) | (s.consolidated ? 2 : 0))
        f32(s.ewc?.lambda ?? 0)
        f32(s.ewc?.fisherDecay ?? 0)
        u64(UInt64(s.steps))
        u64(0)
        assert(b.count == headerSize)
        for v in s.arrays { f32(v) }
        u32(CRC32C.checksum(b))
        try withBytes(b) { (p) throws(KestrelError) in try AtomicFile.write(p, to: url) }
    }

    static func read(from url: URL) throws(KestrelError) -> AdapterFileState {
        let file = try MappedFile.map(path: url.path)
        do throws(KestrelError) {
            return try parse(file.bytes)
        } catch let e {
            if case .corruptFile(nil, let section, let reason) = e { throw .corruptFile(path: url.path, section: section, reason: reason) }
            throw e
        }
    }

    static func parse(_ p: UnsafeRawBufferPointer) throws(KestrelError) -> AdapterFileState {
        func corrupt(_ why: String, _ section: String? = "header") -> KestrelError { .corruptFile(path: nil, section: section, reason: why) }
        guard p.count >= headerSize + 4 else { throw corrupt("file is \(p.count) bytes, shorter than its header") }
        guard Array(p[0..<8]) == magic else { throw corrupt("bad magic (not a Kestrel adapter file)") }
        func u32(_ o: Int) -> UInt32 { UInt32(littleEndian: p.loadUnaligned(fromByteOffset: o, as: UInt32.self)) }
        func u64(_ o: Int) -> UInt64 { UInt64(littleEndian: p.loadUnaligned(fromByteOffset: o, as: UInt64.self)) }
        func f32(_ o: Int) -> Float { Float(bitPattern: u32(o)) }
        let v = u32(8)
        guard v == version else { throw .unsupportedVersion(found: Int(v), supported: Int(version)...Int(version)) }
        let crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: p[0..<(p.count - 4)]))
        guard crc == u32(p.count - 4) else { throw corrupt("checksum mismatch (damaged or truncated file)", nil) }
        guard let form = AdapterForm(rawValue: Int(u32(12))) else { throw corrupt("unknown form \(u32(12))") }
        let dIn = u64(16), dOut = u64(24), rank = u64(32)
        guard dIn >= 1, dOut >= 1, rank >= 1, dIn < 1 << 31, dOut < 1 << 31, rank < 1 << 31 else {
            throw corrupt("shape \(dIn) x \(dOut) rank \(rank)")
        }
        let n = Int(rank) * (Int(dIn) + Int(dOut))
        guard n <= (Int.max - headerSize - 4) / 24, p.count == headerSize + 24 * n + 4 else {
            throw corrupt("file is \(p.count) bytes, its shape needs \(headerSize + 24 * n + 4)")
        }
        let opt: AdapterOptimizer
        switch u32(44) {
        case 0: opt = .sgd
        case 1: opt = .momentum(f32(52))
        case 2: opt = .adam(beta1: f32(52), beta2: f32(56), epsilon: f32(60))
        default: throw corrupt("unknown optimizer \(u32(44))")
        }
        let clip = f32(64)
        let training = AdapterTraining(learningRate: f32(48), optimizer: opt, clipNorm: clip == 0 ? nil : clip)
        let flags = u32(68)
        guard flags & ~3 == 0, u64(88) == 0 else { throw corrupt("reserved bits set") }
        let ewc = flags & 1 != 0 ? EWCConfiguration(lambda: f32(72), fisherDecay: f32(76)) : nil
        do {
            try training.validate()
            try ewc?.validate()
        } catch { throw corrupt("invalid settings: \(error)") }
        let alpha = f32(40)
        guard alpha.isFinite else { throw corrupt("alpha \(alpha)") }
        var arrays = [Float](repeating: 0, count: 6 * n)
        for i in 0..<(6 * n) {
            let x = f32(headerSize + 4 * i)
            guard x.isFinite else { throw corrupt("non-finite value at element \(i)", "state") }
            arrays[i] = x
        }
        return AdapterFileState(dIn: Int(dIn), dOut: Int(dOut), rank: Int(rank), alpha: alpha, form: form,
                                training: training, ewc: ewc, consolidated: flags & 2 != 0, steps: Int(u64(80)),
                                arrays: arrays)
    }
}
