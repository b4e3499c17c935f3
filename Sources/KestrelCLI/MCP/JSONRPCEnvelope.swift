import Foundation
import MCP

/// The top-level fields of a JSON-RPC 2.0 message, read without decoding its parameters or
/// result. The SDK's `Value` runs a regular expression over every string it decodes (a data-URL
/// check), which made screening and tracking a message cost milliseconds; JSONDecoder only
/// materialises the keys asked for, so this costs a parse of the line and little more.
struct JSONRPCEnvelope: Decodable, Equatable {
    /// A message id as JSON-RPC allows it.
    enum ID: Equatable {
        case string(String), int(Int)
        /// Present but neither a string nor an integer (an invalid request), or null.
        case invalid, null

        /// The `Value` form for an error response (null unless a string or integer).
        var value: Value {
            switch self {
            case .string(let s): return .string(s)
            case .int(let i): return .int(i)
            case .invalid, .null: return .null
            }
        }

        /// A dictionary key for a string or integer id, nil otherwise.
        var key: String? {
            switch self {
            case .string(let s): return "s:" + s
            case .int(let i): return "i:\(i)"
            case .invalid, .null: return nil
            }
        }
    }

    /// `jsonrpc` when it is a string.
    var version: String?
    /// nil: no `id` key.
    var id: ID?
    /// `method` when it is a string; `methodIsString` false when the key holds something else.
    var method: String?
    var hasMethod = false
    var methodIsString = false
    var hasParams = false
    var paramsIsObject = false
    var hasResult = false
    var hasError = false
    /// `params.requestId` of a cancellation notification.
    var cancelledRequest: ID?

    private enum Keys: String, CodingKey { case jsonrpc, id, method, params, result, error }
    private enum ParamKeys: String, CodingKey { case requestId }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        version = try? c.decode(String.self, forKey: .jsonrpc)
        if c.contains(.id) { id = Self.id(in: c, forKey: .id) }
        hasMethod = c.contains(.method)
        method = try? c.decode(String.self, forKey: .method)
        methodIsString = method != nil
        hasParams = c.contains(.params)
        if hasParams, let p = try? c.nestedContainer(keyedBy: ParamKeys.self, forKey: .params) {
            paramsIsObject = true
            if p.contains(.requestId) { cancelledRequest = Self.id(in: p, forKey: .requestId) }
        }
        hasResult = c.contains(.result)
        hasError = c.contains(.error)
    }

    private static func id<K: CodingKey>(in c: KeyedDecodingContainer<K>, forKey key: K) -> ID {
        if (try? c.decodeNil(forKey: key)) == true { return .null }
        if let s = try? c.decode(String.self, forKey: key) { return .string(s) }
        if let i = try? c.decode(Int.self, forKey: key) { return .int(i) }
        return .invalid
    }

    /// One line's shape: an object, a batch (array) of objects, or something else.
    enum Parsed {
        case object(JSONRPCEnvelope)
        case batch([JSONRPCEnvelope?])
        /// Valid JSON but neither an object nor an array.
        case other
    }

    /// Parses `data`; throws only when it is not JSON.
    static func parse(_ data: Data) throws -> Parsed {
        try JSONDecoder().decode(Top.self, from: data).parsed
    }

    private struct Top: Decodable {
        var parsed: Parsed
        init(from decoder: any Decoder) throws {
            if var a = try? decoder.unkeyedContainer() {
                var items: [JSONRPCEnvelope?] = []
                while !a.isAtEnd {
                    if let e = try? a.decode(JSONRPCEnvelope.self) {
                        items.append(e)
                    } else {
                        items.append(nil)
                        _ = try a.decode(Skip.self)  // not an object: step over it
                    }
                }
                parsed = .batch(items)
            } else if let e = try? JSONRPCEnvelope(from: decoder) {
                parsed = .object(e)
            } else {
                parsed = .other
            }
        }
    }

    /// Any JSON value, ignored.
    private struct Skip: Decodable {
        init(from decoder: any Decoder) throws {}
    }
}
