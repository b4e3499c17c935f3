import Foundation
import Testing
@testable import KestrelQuantization

/// Names to quantizers, and formats back to the quantizer that reads them.
@Suite struct QuantizerCatalogTests {
    @Test func everyNameGivesItsFormat() throws {
        for name in QuantizerCatalog.names {
            let q = try QuantizerCatalog.quantizer(named: name.uppercased())
            switch q.format {
            case .ggml(let t): #expect(t.description == name)
            case .integer(let s):
                #expect(s.bits == (name == "int8" ? 8 : 4) && s.symmetric && s.granularity == .perChannel(axis: 0))
            }
            #expect(try QuantizerCatalog.quantizer(for: q.format).format == q.format)
        }
        let grouped = try QuantizerCatalog.quantizer(named: "int4", group: 64, symmetric: false)
        #expect(grouped.format == .integer(IntegerScheme(bits: 4, symmetric: false, granularity: .perGroup(size: 64))))
    }

    @Test func badNamesAndGroupsThrow() {
        func argument(_ body: () throws -> Void) -> String? {
            do { try body(); return nil } catch {
                if case .invalidArgument(let n, _)? = error as? KestrelError { return n }
                return "\(error)"
            }
        }
        #expect(argument { _ = try QuantizerCatalog.quantizer(named: "q3_k") } == "format")
        #expect(argument { _ = try QuantizerCatalog.quantizer(named: "q8_k") } == "format")
        #expect(argument { _ = try QuantizerCatalog.quantizer(named: "q4_0", group: 32) } == "group")
        #expect(argument { _ = try QuantizerCatalog.quantizer(named: "int8", group: 48) } == "group")
    }

    @Test func roundTripThroughTheCatalogMatchesTheQuantizer() throws {
        let x = try Tensor((0..<512).map { Float(sin(Double($0) * 0.37)) }, shape: [2, 256])
        for name in ["q4_k", "int8", "f16"] {
            let q = try QuantizerCatalog.quantizer(named: name)
            let packed = try q.quantize(x)
            let back = try QuantizerCatalog.quantizer(for: packed.format).dequantize(packed)
            #expect(try back.toArray(of: Float.self) == (try q.dequantize(packed).toArray(of: Float.self)))
        }
    }
}
