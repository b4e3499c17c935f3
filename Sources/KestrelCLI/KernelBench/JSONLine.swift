/// A flat JSON object written on one line with its keys in insertion order (the benchmark
/// output format: one object per line, easy to `grep` and to load with `json.loads`).
struct JSONLine: Sendable, Equatable {
    /// A JSON scalar.
    enum Value: Sendable, Equatable {
        case string(String)
        case int(Int)
        case double(Double)
        case bool(Bool)
        case null
    }

    /// The key/value pairs in output order.
    private(set) var fields: [(key: String, value: Value)] = []

    static func == (lhs: JSONLine, rhs: JSONLine) -> Bool { lhs.text == rhs.text }

    init(_ fields: [(String, Value)] = []) {
        for (k, v) in fields { append(k, v) }
    }

    /// Adds a field (keys are not deduplicated: callers use each key once).
    mutating func append(_ key: String, _ value: Value) { fields.append((key, value)) }

    /// The keys in output order.
    var keys: [String] { fields.map(\.key) }

    /// The object as a single line of JSON, no trailing newline.
    var text: String {
        "{" + fields.map { "\(JSONLine.quote($0.key)):\(JSONLine.render($0.value))" }.joined(separator: ",") + "}"
    }

    /// A double rounded to `digits` significant decimal digits (keeps the lines short and stable).
    static func rounded(_ x: Double, significantDigits digits: Int = 6) -> Double {
        guard x.isFinite, x != 0 else { return x }
        let magnitude = Int((abs(x)).log10Floor)
        let scale = pow10(digits - 1 - magnitude)
        return (x * scale).rounded() / scale
    }

    private static func pow10(_ e: Int) -> Double {
        var r = 1.0
        for _ in 0..<abs(e) { r *= 10 }
        return e >= 0 ? r : 1 / r
    }

    private static func render(_ v: Value) -> String {
        switch v {
        case .string(let s): return quote(s)
        case .int(let i): return String(i)
        case .bool(let b): return b ? "true" : "false"
        case .null: return "null"
        case .double(let d):
            // JSON has no NaN/Inf; an integral value keeps a ".0" so readers see a float.
            guard d.isFinite else { return "null" }
            return d.description
        }
    }

    private static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }
}

extension Double {
    /// floor(log10(self)) for a positive finite value, without libm.
    fileprivate var log10Floor: Int {
        var e = 0
        var v = self
        while v >= 10 { v /= 10; e += 1 }
        while v < 1 { v *= 10; e -= 1 }
        return e
    }
}
