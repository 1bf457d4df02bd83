// Reads one JSON object of a workload field by field, so that every error
// names the file, the field and what was expected, and unknown fields
// (typos) are refused instead of silently ignored.
import LoadGen
import ResultModel

/// A checked view of one JSON object.
public struct ObjectReader {
    /// The file being read, for messages.
    public let file: String
    /// The path of this object ("" for the top, "fileset", "mix[1]").
    public let path: String
    private let object: [String: JSONValue]
    private var known: [String] = []

    /// Wraps `value`, which must be an object.
    public init(_ value: JSONValue, file: String, path: String) throws {
        self.file = file
        self.path = path
        guard case .object(let o) = value else {
            throw WorkloadError(file: file, field: path, problem: "expected an object, got \(value.typeName)")
        }
        object = o
    }

    /// The keys present in the object, sorted (for maps of user-chosen names).
    public var keys: [String] { object.keys.sorted() }

    /// The full path of `key`.
    public func fieldPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// An error about `key`.
    public func error(_ key: String, _ problem: String) -> WorkloadError {
        WorkloadError(file: file, field: fieldPath(key), problem: problem)
    }

    private func got(_ v: JSONValue) -> String {
        switch v {
        case .string, .number, .bool, .null: return "got \(v.compact)"
        default: return "got \(v.typeName)"
        }
    }

    /// The raw value of `key`, marking it known.
    public mutating func value(_ key: String) -> JSONValue? {
        known.append(key)
        return object[key]
    }

    /// A required or defaulted string.
    public mutating func string(_ key: String, default def: String? = nil) throws -> String {
        switch value(key) {
        case .string(let s)?: return s
        case nil where def != nil: return def!
        case nil: throw error(key, "is required: expected a string")
        case let v?: throw error(key, "expected a string, \(got(v))")
        }
    }

    /// A boolean.
    public mutating func bool(_ key: String, default def: Bool) throws -> Bool {
        switch value(key) {
        case .bool(let b)?: return b
        case nil: return def
        case let v?: throw error(key, "expected true or false, \(got(v))")
        }
    }

    /// A number in `range`.
    public mutating func double(_ key: String, default def: Double?, range: ClosedRange<Double>,
                                what: String = "a number") throws -> Double? {
        switch value(key) {
        case .number(let n)? where range.contains(n): return n
        case nil, .null?: return def
        case let v?: throw error(key, "expected \(what) in \(fmt(range.lowerBound))...\(fmt(range.upperBound)), \(got(v))")
        }
    }

    /// A whole number in `range`.
    public mutating func int(_ key: String, default def: Int, range: ClosedRange<Int>) throws -> Int {
        switch value(key) {
        case .number(let n)? where n == n.rounded() && range.contains(Int(exactly: n) ?? Int.min): return Int(n)
        case nil: return def
        case let v?: throw error(key, "expected a whole number in \(range.lowerBound)...\(range.upperBound), \(got(v))")
        }
    }

    /// A size in bytes: a number or a string like "4KiB".
    public mutating func bytes(_ key: String, default def: Int?, range: ClosedRange<Int>) throws -> Int? {
        let v = value(key)
        var n: Int?
        switch v {
        case nil: return def
        case .number(let d)?: n = d == d.rounded() ? Int(exactly: d) : nil
        case .string(let s)?: n = Units.bytes(s)
        default: n = nil
        }
        guard let n, range.contains(n) else {
            throw error(key, "expected a size in bytes from \(range.lowerBound) to \(range.upperBound) "
                        + "(a number or a string such as \"4KiB\" or \"1MiB\"), \(got(v!))")
        }
        return n
    }

    /// A duration in seconds: a number or a string like "500ms".
    public mutating func seconds(_ key: String, default def: Double, range: ClosedRange<Double>) throws -> Double {
        let v = value(key)
        var n: Double?
        switch v {
        case nil: return def
        case .number(let d)?: n = d
        case .string(let s)?: n = Units.seconds(s)
        default: n = nil
        }
        guard let n, range.contains(n) else {
            throw error(key, "expected a duration from \(fmt(range.lowerBound))s to \(fmt(range.upperBound))s "
                        + "(seconds, or a string such as \"500ms\" or \"2s\"), \(got(v!))")
        }
        return n
    }

    /// One of `choices`.
    public mutating func choice<T: RawRepresentable>(_ key: String, default def: T?, _ choices: [T]) throws -> T
        where T.RawValue == String {
        let names = choices.map(\.rawValue).joined(separator: ", ")
        switch value(key) {
        case .string(let s)?:
            if let c = T(rawValue: s) { return c }
            throw error(key, "unknown value \"\(s)\"; expected one of: \(names)")
        case nil where def != nil: return def!
        case nil: throw error(key, "is required: expected one of: \(names)")
        case let v?: throw error(key, "expected one of: \(names); \(got(v))")
        }
    }

    /// A nested object, if present.
    public mutating func object(_ key: String) throws -> ObjectReader? {
        guard let v = value(key) else { return nil }
        return try ObjectReader(v, file: file, path: fieldPath(key))
    }

    /// An array, if present.
    public mutating func array(_ key: String) throws -> [JSONValue]? {
        switch value(key) {
        case nil: return nil
        case .array(let a)?: return a
        case let v?: throw error(key, "expected an array, \(got(v))")
        }
    }

    /// Refuses fields nobody asked for (typos, unsupported options).
    public func finish() throws {
        let unknown = object.keys.filter { !known.contains($0) }.sorted()
        if let first = unknown.first {
            throw error(first, "unknown field; known fields here: \(known.joined(separator: ", "))")
        }
    }
}

private func fmt(_ d: Double) -> String {
    d == d.rounded() && abs(d) < 1e15 ? String(Int(d)) : String(d)
}
