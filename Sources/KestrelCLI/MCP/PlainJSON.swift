import Foundation
import MCP

/// Any JSON value as the SDK's `Value`, strings kept as strings.
///
/// The SDK's own `Value` decoder builds and runs a regular expression for every string it
/// decodes and turns a string that parses as a data URL into `.data` (which a tool asking for a
/// string then does not see, and which re-encodes differently: `data:,hi` comes back as
/// `data:text/plain;base64,aGk=`). Tool arguments and results are plain JSON, so the server
/// decodes them with this.
struct PlainJSON: Decodable {
    var value: Value

    /// Decodes a JSON document.
    /// - Throws: `DecodingError` when `data` is not JSON.
    static func decode(_ data: Data) throws -> Value {
        try JSONDecoder().decode(PlainJSON.self, from: data).value
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        // JSON's types are disjoint, so the order only matters for integers before doubles (as
        // the SDK's `Value`); the common argument types come first.
        if c.decodeNil() {
            value = .null
        } else if let s = try? c.decode(String.self) {
            value = .string(s)
        } else if let b = try? c.decode(Bool.self) {
            value = .bool(b)
        } else if let i = try? c.decode(Int.self) {
            value = .int(i)
        } else if let d = try? c.decode(Double.self) {
            value = .double(d)
        } else if let o = try? c.decode([String: PlainJSON].self) {
            value = .object(o.mapValues(\.value))
        } else {
            value = .array(try c.decode([PlainJSON].self).map(\.value))
        }
    }
}
