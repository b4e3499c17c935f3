import Foundation
import KestrelQuantization
import _KestrelTestSupport

/// expected.json of Tests/Fixtures/gguf (written by Scripts/make_gguf_fixtures.py from gguf-py).
enum GGUFExpected {
    static func load() throws -> [String: Any] {
        let data = try Data(contentsOf: Fixtures.url("gguf/expected.json"))
        return try JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    static func file(_ name: String) throws -> [String: Any] {
        (try load()["files"] as! [String: Any])[name] as! [String: Any]
    }

    /// A typed JSON value (see Scripts/gguf_common.py) as a GGUFValue.
    static func value(_ j: [String: Any]) -> GGUFValue {
        let type = j["type"] as! String
        func int() -> String { j["value"] as! String }
        func bits() -> UInt64 { UInt64((j["bits"] as! String).dropFirst(2), radix: 16)! }
        switch type {
        case "uint8": return .uint8(UInt8(int())!)
        case "int8": return .int8(Int8(int())!)
        case "uint16": return .uint16(UInt16(int())!)
        case "int16": return .int16(Int16(int())!)
        case "uint32": return .uint32(UInt32(int())!)
        case "int32": return .int32(Int32(int())!)
        case "uint64": return .uint64(UInt64(int())!)
        case "int64": return .int64(Int64(int())!)
        case "float32": return .float32(Float(bitPattern: UInt32(bits())))
        case "float64": return .float64(Double(bitPattern: bits()))
        case "bool": return .bool(j["value"] as! Bool)
        case "string": return .string(j["value"] as! String)
        case "array":
            let et = GGUFValueType.allCases.first { $0.description == j["element_type"] as! String }!
            return .array(elementType: et, (j["elements"] as! [[String: Any]]).map(value))
        default: fatalError("unknown type \(type) in expected.json")
        }
    }
}

/// Equality of GGUF values with floats compared by bit pattern (NaN equals the same NaN).
func sameBits(_ a: GGUFValue, _ b: GGUFValue) -> Bool { a.isIdentical(to: b) }

/// Little-endian byte builder for hand-made GGUF files (independent of GGUFWriter).
struct GGUFBytes {
    var bytes: [UInt8] = []

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func str(_ s: String) {
        u64(UInt64(s.utf8.count))
        bytes.append(contentsOf: s.utf8)
    }
    mutating func pad(to alignment: Int) {
        while bytes.count % alignment != 0 { bytes.append(0) }
    }
    mutating func tensorInfo(_ name: String, dims: [UInt64], type: UInt32, offset: UInt64) {
        str(name)
        u32(UInt32(dims.count))
        for d in dims { u64(d) }
        u32(type)
        u64(offset)
    }
}

/// Parses `bytes` with GGUFFile(bytes:), returning the error (nil when it parsed).
func ggufError(_ bytes: [UInt8]) -> KestrelError? {
    do {
        _ = try bytes.withUnsafeBytes { (b) throws(KestrelError) in try GGUFFile(bytes: b) }
        return nil
    } catch let e as KestrelError {
        return e
    } catch {
        return nil
    }
}
