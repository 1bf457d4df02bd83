// A workload file: a named load plus the server configuration it runs
// against. The format is documented in workloads/README.md.
import Foundation
import Contract
import FuseServer
import LoadGen
import ResultModel

/// A parsed workload file.
public struct Workload: Codable, Equatable, Sendable {
    /// Short name ("smoke").
    public var name: String
    /// What the workload exercises.
    public var description: String
    /// The load.
    public var load: LoadSpec
    /// The reference server's configuration.
    public var server: ServerOptions
    /// Faults injected during the measured phase.
    public var faults: [FaultSpec] = []
    /// Restart strategies to run the workload with, one run each (empty:
    /// one run, no restarts; a fault then ends the run with an error).
    public var strategies: [Strategy] = []
    /// The sweep point this workload is, when it came from a sweep.
    public var sweepPoint: SweepPoint?
    /// Before the load, stat every fileset file through the mount once, so
    /// that the kernel has all of them cached (revalidation studies).
    public var prime = false
    /// A hazard scenario instead of a load: a scripted probe around one
    /// restart, checked against the outcome the file expects.
    public var hazard: HazardSpec?
    /// Real programs run as the load, beside the synthetic mix or instead
    /// of it (no "mix"): the measured phase lasts until the last one exits.
    public var clients: [ClientSpec] = []

    /// A workload.
    public init(name: String, description: String, load: LoadSpec, server: ServerOptions,
                faults: [FaultSpec] = [], strategies: [Strategy] = []) {
        self.name = name
        self.description = description
        self.load = load
        self.server = server
        self.faults = faults
        self.strategies = strategies
    }

    /// Reads and checks a workload file, expanding its sweep: one workload
    /// per sweep value (one in all without a sweep). Throws WorkloadError.
    public static func loadPoints(path: String) throws -> [Workload] {
        let data = try readData(path)
        let value = try decode(data, file: path)
        guard case .object(var o) = value, let sweepValue = o.removeValue(forKey: "sweep") else {
            return [try parse(data, file: path)]
        }
        var r = try ObjectReader(sweepValue, file: path, path: "sweep")
        let field = try r.string("field")
        guard let values = try r.array("values"), !values.isEmpty else {
            throw r.error("values", "expected a non-empty array of values for \(field)")
        }
        try r.finish()
        return try values.enumerated().map { i, v in
            var point = o
            guard setPath(&point, field.split(separator: ".").map(String.init), v) else {
                throw WorkloadError(file: path, field: "sweep.field",
                                    problem: "\(field) is not a field of this workload (give a path such as fileset.filesPerDir)")
            }
            var w = try parse(JSONEncoder().encode(JSONValue.object(point)), file: "\(path) (sweep.values[\(i)])")
            w.sweepPoint = SweepPoint(field: field, value: v)
            return w
        }
    }

    /// Sets `path` in an object, creating intermediate objects; false when
    /// a step is not an object.
    static func setPath(_ o: inout [String: JSONValue], _ path: [String], _ v: JSONValue) -> Bool {
        guard let first = path.first else { return false }
        if path.count == 1 {
            o[first] = v
            return true
        }
        var inner: [String: JSONValue]
        switch o[first] {
        case .object(let x)?: inner = x
        case nil: inner = [:]
        default: return false
        }
        guard setPath(&inner, Array(path.dropFirst()), v) else { return false }
        o[first] = .object(inner)
        return true
    }

    static func readData(_ path: String) throws -> Data {
        do { return try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw WorkloadError(file: path, field: "", problem: "cannot read the file (\(error.localizedDescription)); "
                                + "give the path of a workload JSON file such as workloads/smoke.json")
        }
    }

    static func decode(_ data: Data, file: String) throws -> JSONValue {
        do {
            _ = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
            return try JSONDecoder().decode(JSONValue.self, from: data)
        } catch {
            let detail = ((error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String) ?? "\(error)"
            throw WorkloadError(file: file, field: "", problem: "not valid JSON: \(detail)")
        }
    }

    /// Reads and checks a workload file without a sweep. Throws WorkloadError.
    public static func load(path: String) throws -> Workload {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw WorkloadError(file: path, field: "", problem: "cannot read the file (\(error.localizedDescription)); "
                                + "give the path of a workload JSON file such as workloads/smoke.json")
        }
        return try parse(data, file: path)
    }

    /// Parses workload JSON; `file` names it in errors.
    public static func parse(_ data: Data, file: String) throws -> Workload {
        var r = try ObjectReader(try decode(data, file: file), file: file, path: "")
        let name = try r.string("name")
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
            throw r.error("name", "expected letters, digits, '-' or '_', got \"\(name)\"")
        }
        let description = try r.string("description", default: "")
        if var h = try r.object("hazard") {
            // A scenario: no load, one probe per strategy.
            let hazard = try HazardSpec.read(&h)
            let server = try ServerOptions.read(try r.object("server"))
            let strategies = try readStrategies(&r)
            try r.finish()
            var w = Workload(name: name, description: description, load: LoadSpec(), server: server,
                             strategies: strategies)
            w.hazard = hazard
            return w
        }
        let clients = try (try r.array("clients") ?? []).enumerated().map { i, v in
            var c = try ObjectReader(v, file: file, path: "clients[\(i)]")
            return try ClientSpec.read(&c)
        }
        if let dup = Dictionary(grouping: clients, by: \.name).first(where: { $0.value.count > 1 })?.key {
            throw r.error("clients", "two clients are named \"\(dup)\"; give each its own name")
        }
        if !clients.isEmpty && r.value("duration") != nil {
            throw r.error("duration", "does not go with clients: the measured phase lasts until the last client "
                          + "exits; bound each client with its \"timeout\"")
        }
        let load = try LoadSpec.read(&r, mixOptional: !clients.isEmpty)
        let server = try ServerOptions.read(try r.object("server"))
        let faults = try (try r.array("faults") ?? []).enumerated().map { i, v in
            var f = try ObjectReader(v, file: file, path: "faults[\(i)]")
            return try FaultSpec.read(&f)
        }
        let prime = try r.bool("prime", default: false)
        if r.value("sweep") != nil {
            throw r.error("sweep", "a sweep is expanded when the file is loaded with its points (fusebench run does this)")
        }
        let strategies = try readStrategies(&r)
        try r.finish()
        var w = Workload(name: name, description: description, load: load, server: server, faults: faults,
                         strategies: strategies)
        w.prime = prime
        w.clients = clients
        return w
    }

    static func readStrategies(_ r: inout ObjectReader) throws -> [Strategy] {
        try (try r.array("strategies") ?? []).enumerated().map { i, v -> Strategy in
            guard case .string(let s) = v, let st = Strategy(rawValue: s) else {
                throw r.error("strategies[\(i)]", "unknown strategy \(v.compact); expected one of: \(Strategy.names)")
            }
            return st
        }
    }

    /// The workload as run, for results: the workload file format with
    /// every default filled in (sizes in bytes, durations in seconds), so
    /// that it can be saved and run again.
    public var asRun: JSONValue {
        if let hazard {
            var o: [String: JSONValue] = ["name": .string(name), "description": .string(description),
                                          "hazard": (try? JSONValue.from(hazard)) ?? .null, "server": (try? JSONValue.from(server)) ?? .null]
            if !strategies.isEmpty { o["strategies"] = .array(strategies.map { .string($0.rawValue) }) }
            return .object(o)
        }
        guard case .object(var o)? = try? JSONValue.from(load) else { return .null }
        o["name"] = .string(name)
        o["description"] = .string(description)
        o["server"] = (try? JSONValue.from(server)) ?? .null
        if !faults.isEmpty { o["faults"] = .array(faults.map(\.asWorkloadJSON)) }
        if !strategies.isEmpty { o["strategies"] = .array(strategies.map { .string($0.rawValue) }) }
        if prime { o["prime"] = .bool(true) }
        if !clients.isEmpty {
            o["clients"] = (try? JSONValue.from(clients)) ?? .null
            // The clients' lifetime is the measured phase.
            o["duration"] = nil
            if load.mix.isEmpty {
                o["mix"] = .array([])
                o["threads"] = nil
            }
        }
        return .object(o)
    }
}
