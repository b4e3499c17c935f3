import MCP

/// Validates a JSON value against the subset of JSON Schema (2020-12) the server's tool schemas
/// use: `type` (one or a list), `enum`, `minimum`/`maximum`, `minLength`/`maxLength`,
/// `properties`, `required`, `additionalProperties` (a boolean or a schema), `items`,
/// `minItems`/`maxItems`. Keywords outside the subset are ignored, so a schema using one would
/// be checked loosely: the tool schemas are written within the subset, and the Python client
/// check validates every result with the full `jsonschema` implementation as well.
enum JSONSchemaCheck {
    /// The first violation found, as `path: reason`, or nil when `value` conforms.
    static func violation(of value: Value, against schema: Value, at path: String = "$") -> String? {
        guard case .object(let s) = schema else { return nil }
        if let type = s["type"] {
            let allowed: [String] = type.stringValue.map { [$0] } ?? type.arrayValue?.compactMap(\.stringValue) ?? []
            if !allowed.isEmpty && !allowed.contains(where: { matches(value, type: $0) }) {
                return "\(path): expected \(allowed.joined(separator: " or ")), got \(typeName(value))"
            }
        }
        if let options = s["enum"]?.arrayValue, !options.contains(where: { equal($0, value) }) {
            return "\(path): \(brief(value)) is not one of \(options.map(brief).joined(separator: ", "))"
        }
        if let x = number(value) {
            if let lo = s["minimum"].flatMap(number), x < lo { return "\(path): \(brief(value)) is below the minimum \(brief(s["minimum"]!))" }
            if let hi = s["maximum"].flatMap(number), x > hi { return "\(path): \(brief(value)) is above the maximum \(brief(s["maximum"]!))" }
        }
        if case .string(let text) = value {
            if let lo = s["minLength"]?.intValue, text.count < lo { return "\(path): shorter than \(lo) characters" }
            if let hi = s["maxLength"]?.intValue, text.count > hi { return "\(path): longer than \(hi) characters" }
        }
        if case .array(let items) = value {
            if let lo = s["minItems"]?.intValue, items.count < lo { return "\(path): fewer than \(lo) items" }
            if let hi = s["maxItems"]?.intValue, items.count > hi { return "\(path): more than \(hi) items" }
            if let itemSchema = s["items"] {
                for (i, item) in items.enumerated() {
                    if let v = violation(of: item, against: itemSchema, at: "\(path)[\(i)]") { return v }
                }
            }
        }
        if case .object(let fields) = value {
            for name in s["required"]?.arrayValue?.compactMap(\.stringValue) ?? [] where fields[name] == nil {
                return "\(path): missing required property '\(name)'"
            }
            let properties = s["properties"]?.objectValue ?? [:]
            for key in fields.keys.sorted() {
                let child = "\(path).\(key)"
                if let p = properties[key] {
                    if let v = violation(of: fields[key]!, against: p, at: child) { return v }
                } else if let extra = s["additionalProperties"] {
                    if extra == .bool(false) { return "\(path): unknown property '\(key)'" }
                    if let v = violation(of: fields[key]!, against: extra, at: child) { return v }
                }
            }
        }
        return nil
    }

    static func matches(_ value: Value, type: String) -> Bool {
        switch (type, value) {
        case ("null", .null), ("boolean", .bool), ("string", .string), ("string", .data), ("array", .array), ("object", .object):
            return true
        case ("integer", .int), ("number", .int), ("number", .double): return true
        case ("integer", .double(let d)): return d.rounded() == d && d.isFinite
        default: return false
        }
    }

    static func typeName(_ value: Value) -> String {
        switch value {
        case .null: return "null"
        case .bool: return "boolean"
        case .int: return "integer"
        case .double: return "number"
        case .string, .data: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }

    private static func number(_ v: Value) -> Double? {
        switch v {
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: return nil
        }
    }

    /// JSON equality (1 and 1.0 are equal).
    private static func equal(_ a: Value, _ b: Value) -> Bool {
        if let x = number(a), let y = number(b) { return x == y }
        return a == b
    }

    private static func brief(_ v: Value) -> String {
        switch v {
        case .string(let s): return "'\(s.prefix(40))'"
        default: return "\(v)".count > 40 ? String("\(v)".prefix(40)) + "…" : "\(v)"
        }
    }
}
