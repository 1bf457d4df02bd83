// Reading and writing result documents: sorted keys, atomically.
import Foundation

/// Errors reading a result file.
public enum ResultFileError: Error, CustomStringConvertible {
    /// The file could not be read or parsed.
    case unreadable(String, String)
    /// Written by a format version this build does not know.
    case incompatible(String, Int)

    /// What is wrong and what to do.
    public var description: String {
        switch self {
        case .unreadable(let p, let why): return "cannot read result \(p): \(why)"
        case .incompatible(let p, let v):
            return "\(p) has schemaVersion \(v); this fusebench reads version \(ResultDocument.currentSchemaVersion)"
        }
    }
}

/// Encodes, writes and reads result documents.
public enum ResultFile {
    /// The JSON encoding used everywhere.
    public static func encode(_ doc: ResultDocument) throws -> Data {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        enc.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf",
                                                                  negativeInfinity: "-inf", nan: "nan")
        return try enc.encode(doc)
    }

    /// Writes `doc` to `path` through a temporary file and rename, so that
    /// a killed run never leaves half a file.
    public static func write(_ doc: ResultDocument, to path: String) throws {
        let data = try encode(doc)
        let url = URL(fileURLWithPath: path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(),
                                                withIntermediateDirectories: true)
        try data.write(to: url, options: .atomic)
    }

    /// Reads a document, checking its schema version.
    public static func read(_ path: String) throws -> ResultDocument {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw ResultFileError.unreadable(path, error.localizedDescription)
        }
        struct Version: Decodable { var schemaVersion: Int }
        guard let v = try? JSONDecoder().decode(Version.self, from: data) else {
            throw ResultFileError.unreadable(path, "not a fusebench result (no schemaVersion)")
        }
        guard v.schemaVersion == ResultDocument.currentSchemaVersion else {
            throw ResultFileError.incompatible(path, v.schemaVersion)
        }
        do { return try JSONDecoder().decode(ResultDocument.self, from: data) } catch {
            throw ResultFileError.unreadable(path, "\(error)")
        }
    }
}
