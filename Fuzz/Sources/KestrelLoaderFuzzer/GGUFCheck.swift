import Foundation
import KestrelQuantization

/// What must hold for every GGUF file `GGUFFile(bytes:)` accepts, checked from the outside
/// (offsets and sizes recomputed here, every tensor byte read so ASan sees any overrun), and the
/// writer round trip: the file rewritten by `GGUFWriter` parses to the same keys, values and
/// tensor bytes. A violation is a finding (preconditionFailure).
enum GGUFCheck {
    static func accepted(_ file: GGUFFile, _ bytes: UnsafeRawBufferPointer) {
        let a = file.alignment
        precondition(a > 0 && a & (a - 1) == 0, "alignment \(a)")
        precondition(file.dataOffset % a == 0 && file.dataOffset <= bytes.count, "data offset \(file.dataOffset) of \(bytes.count)")
        precondition(Set(file.tensors.map(\.name)).count == file.tensors.count, "duplicate tensor names")
        precondition(file.metadataKeys.count == file.metadata.count && Set(file.metadataKeys) == Set(file.metadata.keys), "metadata keys")
        var spans: [(Int, Int)] = []
        for t in file.tensors {
            precondition(t.dimensions.count <= 4 && t.dimensions.allSatisfy { $0 >= 0 }, "\(t.name): dims \(t.dimensions)")
            precondition((t.dimensions.first ?? 1) % t.type.blockSize == 0, "\(t.name): partial block")
            precondition(t.byteCount == t.elementCount / t.type.blockSize * t.type.bytesPerBlock, "\(t.name): byte count")
            precondition(t.offset % a == 0, "\(t.name): offset \(t.offset) not aligned")
            precondition(t.byteCount == 0 || file.dataOffset + t.offset + t.byteCount <= bytes.count, "\(t.name): past the end")
            let raw = try! file.rawBytes(of: t.name)
            precondition(raw.count == t.byteCount)
            if t.byteCount > 0 {
                precondition(raw.elementsEqual(bytes[(file.dataOffset + t.offset)..<(file.dataOffset + t.offset + t.byteCount)]), "\(t.name): bytes")
                spans.append((t.offset, t.offset + t.byteCount))
            }
            switch t.type {
            case .f32, .f16, .bf16:
                let x = try! file.tensor(named: t.name)
                precondition(x.shape.dims == t.shape, "\(t.name): shape")
                _ = try! file.floatTensor(named: t.name)
            default:
                precondition((try? file.tensor(named: t.name)) == nil, "\(t.name): blocks as elements")
                // Fuzzed blocks reach the block dequantizers; only corruptFile (a non-finite
                // scale) or unsupported (q8_K) may stop them.
                do {
                    let x = try file.floatTensor(named: t.name)
                    precondition(x.shape.dims == t.shape && x.dtype == .f32, "\(t.name): dequantized shape")
                } catch {
                    switch error {
                    case .corruptFile, .unsupported: break
                    default: preconditionFailure("\(t.name): floatTensor threw \(error)")
                    }
                }
            }
        }
        spans.sort { $0.0 < $1.0 }
        for (x, y) in zip(spans, spans.dropFirst()) { precondition(x.1 <= y.0, "overlapping tensors") }
        roundTrip(file)
    }

    static func roundTrip(_ file: GGUFFile) {
        var w = GGUFWriter()
        do {
            for key in file.metadataKeys { try w.setValue(file.metadata[key]!, forKey: key) }
            for t in file.tensors { try w.addTensor(named: t.name, file.quantizedTensor(named: t.name)) }
            let out = try w.serialized()
            let back = try out.withUnsafeBytes { (b) throws(KestrelError) in try GGUFFile(bytes: b) }
            precondition(back.metadataKeys == file.metadataKeys, "round trip: keys")
            for key in file.metadataKeys { precondition(back.metadata[key]!.isIdentical(to: file.metadata[key]!), "round trip: \(key)") }
            precondition(back.alignment == file.alignment, "round trip: alignment")
            for (x, y) in zip(back.tensors, file.tensors) {
                precondition(x.name == y.name && x.dimensions == y.dimensions && x.type == y.type && x.byteCount == y.byteCount, "round trip: \(y.name)")
                let (bx, by) = (try back.rawBytes(of: x.name), try file.rawBytes(of: y.name))
                precondition(bx.elementsEqual(by), "round trip: \(y.name) bytes")
            }
            precondition(back.tensors.count == file.tensors.count)
        } catch {
            preconditionFailure("an accepted file does not round-trip through GGUFWriter: \(error)")
        }
    }
}
