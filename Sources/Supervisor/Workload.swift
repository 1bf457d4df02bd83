// A workload file: a named load plus the server configuration it runs
// against. The format is documented in workloads/README.md.
import Foundation
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

    /// Reads and checks a workload file. Throws WorkloadError.
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
        let value: JSONValue
        do {
            _ = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
            value = try JSONDecoder().decode(JSONValue.self, from: data)
        } catch {
            let detail = ((error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String) ?? "\(error)"
            throw WorkloadError(file: file, field: "", problem: "not valid JSON: \(detail)")
        }
        var r = try ObjectReader(value, file: file, path: "")
        let name = try r.string("name")
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
            throw r.error("name", "expected letters, digits, '-' or '_', got \"\(name)\"")
        }
        let description = try r.string("description", default: "")
        let load = try LoadSpec.read(&r)
        let server = try ServerOptions.read(try r.object("server"))
        let faults = try (try r.array("faults") ?? []).enumerated().map { i, v in
            var f = try ObjectReader(v, file: file, path: "faults[\(i)]")
            return try FaultSpec.read(&f)
        }
        let strategies = try (try r.array("strategies") ?? []).enumerated().map { i, v -> Strategy in
            guard case .string(let s) = v, let st = Strategy(rawValue: s) else {
                throw r.error("strategies[\(i)]", "unknown strategy \(v.compact); expected one of: \(Strategy.names)")
            }
            return st
        }
        try r.finish()
        return Workload(name: name, description: description, load: load, server: server, faults: faults,
                        strategies: strategies)
    }

    /// The workload as run, for results: the workload file format with
    /// every default filled in (sizes in bytes, durations in seconds), so
    /// that it can be saved and run again.
    public var asRun: JSONValue {
        guard case .object(var o)? = try? JSONValue.from(load) else { return .null }
        o["name"] = .string(name)
        o["description"] = .string(description)
        o["server"] = (try? JSONValue.from(server)) ?? .null
        if !faults.isEmpty { o["faults"] = .array(faults.map(\.asWorkloadJSON)) }
        if !strategies.isEmpty { o["strategies"] = .array(strategies.map { .string($0.rawValue) }) }
        return .object(o)
    }
}

extension ServerOptions {
    /// Reads the "server" object of a workload (defaults when absent).
    static func read(_ reader: ObjectReader?) throws -> ServerOptions {
        var o = ServerOptions()
        guard var r = reader else { return o }
        o.threads = try r.int("threads", default: o.threads, range: 1...256)
        o.cloneFd = try r.bool("cloneFd", default: o.cloneFd)
        o.entryTimeout = try r.seconds("entryTimeout", default: o.entryTimeout, range: 0...86400)
        o.attrTimeout = try r.seconds("attrTimeout", default: o.attrTimeout, range: 0...86400)
        o.writebackCache = try r.bool("writebackCache", default: o.writebackCache)
        o.maxWrite = try r.bytes("maxWrite", default: o.maxWrite, range: 4096...(1 << 20))!
        o.splice = try r.bool("splice", default: o.splice)
        o.readdirplus = try r.bool("readdirplus", default: o.readdirplus)
        o.keepCache = try r.bool("keepCache", default: o.keepCache)
        o.nodeIds = try r.choice("nodeIds", default: o.nodeIds, NodeIdScheme.allCases)
        o.fdCacheCapacity = try r.int("fdCacheCapacity", default: o.fdCacheCapacity, range: 64...1_000_000)
        try r.finish()
        return o
    }
}
