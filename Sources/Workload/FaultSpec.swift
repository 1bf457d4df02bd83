// Faults: what to do to the server during the measured phase, and when.
import Contract
import FuseServer
import LoadGen
import ResultModel

/// One kind of fault.
public enum FaultKind: Equatable, Sendable, Codable {
    /// SIGKILL of the server.
    case kill
    /// The server aborts while handling `opcode`, before the work or after
    /// it but before replying.
    case crashInOp(opcode: Opcode, phase: StatsRegion.CrashPhase)
    /// SIGSTOP for `seconds`, then `then`.
    case hang(seconds: Double, then: HangEnd)

    /// "kill", "crash-in-op", "hang".
    public var name: String {
        switch self {
        case .kill: return "kill"
        case .crashInOp: return "crash-in-op"
        case .hang: return "hang"
        }
    }
}

/// How a hang ends.
public enum HangEnd: String, Equatable, Sendable, Codable, CaseIterable {
    /// SIGCONT: the same server goes on.
    case resume
    /// SIGKILL: the server is restarted.
    case kill
}

/// When a fault happens: at a time, repeatedly, or after a number of
/// requests (seconds are from the start of the measured phase).
public enum FaultTrigger: Equatable, Sendable, Codable {
    /// Once, `seconds` into the measured phase.
    case at(Double)
    /// Every `seconds`, from `seconds` on.
    case every(Double)
    /// Once the server has answered `n` more requests (counted from the
    /// start of the measured phase).
    case afterRequests(UInt64)
}

/// A fault and its trigger.
public struct FaultSpec: Equatable, Sendable, Codable {
    /// What.
    public var kind: FaultKind
    /// When.
    public var trigger: FaultTrigger
    /// After the restart, stat every fileset file and time it.
    public var revalidate = false

    /// A fault.
    public init(kind: FaultKind, trigger: FaultTrigger, revalidate: Bool = false) {
        self.kind = kind
        self.trigger = trigger
        self.revalidate = revalidate
    }

    static let opcodeNames = Opcode.allCases.map(\.name)

    /// Reads one entry of a workload's "faults" array.
    static func read(_ r: inout ObjectReader) throws -> FaultSpec {
        let kindName = try r.string("kind")
        let kind: FaultKind
        switch kindName {
        case "kill":
            kind = .kill
        case "crash-in-op":
            let name = try r.string("op")
            guard let op = Opcode(name: name) else {
                throw r.error("op", "unknown FUSE opcode \"\(name.uppercased())\"; expected one of: \(opcodeNames.joined(separator: ", "))")
            }
            let phaseName = try r.string("phase", default: "before")
            guard let phase = StatsRegion.CrashPhase.allCases.first(where: { $0.name == phaseName }) else {
                throw r.error("phase", "expected \"before\" (the work) or \"after\" (the work, before the reply), got \"\(phaseName)\"")
            }
            kind = .crashInOp(opcode: op, phase: phase)
        case "hang":
            let secs = try r.seconds("for", default: 0.5, range: 0.001...3600)
            let thenName = try r.string("then", default: "resume")
            guard let then = HangEnd(rawValue: thenName) else {
                throw r.error("then", "expected \"resume\" or \"kill\", got \"\(thenName)\"")
            }
            kind = .hang(seconds: secs, then: then)
        default:
            throw r.error("kind", "unknown fault \"\(kindName)\"; expected kill, crash-in-op or hang")
        }
        let at = r.value("at")
        let every = r.value("every")
        let after = r.value("afterRequests")
        let given = [at, every, after].compactMap { $0 }.count
        guard given == 1 else {
            throw r.error(given == 0 ? "at" : "every",
                          "give exactly one of \"at\" (a time), \"every\" (a period) or \"afterRequests\" (a count)")
        }
        var trigger: FaultTrigger
        var copy = r
        if at != nil {
            trigger = .at(try copy.seconds("at", default: 0, range: 0...86400))
        } else if every != nil {
            trigger = .every(try copy.seconds("every", default: 1, range: 0.05...86400))
        } else {
            guard kind == .kill else {
                throw r.error("afterRequests", "only a kill can be triggered after a number of requests")
            }
            trigger = .afterRequests(UInt64(try copy.int("afterRequests", default: 1, range: 1...Int(Int32.max))))
        }
        let revalidate = try r.bool("revalidate", default: false)
        try r.finish()
        return FaultSpec(kind: kind, trigger: trigger, revalidate: revalidate)
    }

    /// The times (seconds into the measured phase) at which this fault
    /// fires during `duration`; nil for request-count triggers.
    public func times(duration: Double) -> [Double]? {
        switch trigger {
        case .at(let t): return t < duration ? [t] : []
        case .every(let p): return Array(stride(from: p, to: duration, by: p))
        case .afterRequests: return nil
        }
    }

    /// Parses the command-line form "kind:key=value,key=value", e.g.
    /// "kill:every=2s", "crash-in-op:op=WRITE,phase=after,at=1s".
    public static func parse(_ text: String) throws -> FaultSpec {
        let parts = text.split(separator: ":", maxSplits: 1)
        var object: [String: JSONValue] = ["kind": .string(String(parts[0]))]
        if parts.count > 1 {
            for pair in parts[1].split(separator: ",") {
                let kv = pair.split(separator: "=", maxSplits: 1)
                guard kv.count == 2 else {
                    throw WorkloadError(file: "--fault \(text)", field: String(pair), problem: "expected key=value")
                }
                let key = kv[0] == "after" ? "afterRequests" : String(kv[0])
                object[key] = Double(kv[1]).map { .number($0) } ?? .string(String(kv[1]))
            }
        }
        var r = try ObjectReader(.object(object), file: "--fault \(text)", path: "")
        return try read(&r)
    }
}

extension FaultSpec {
    /// The fault in the workload file format.
    var asWorkloadJSON: JSONValue {
        var o: [String: JSONValue] = ["kind": .string(kind.name)]
        switch kind {
        case .kill: break
        case .crashInOp(let op, let phase):
            o["op"] = .string(op.name)
            o["phase"] = .string(phase.name)
        case .hang(let secs, let then):
            o["for"] = .number(secs)
            o["then"] = .string(then.rawValue)
        }
        switch trigger {
        case .at(let t): o["at"] = .number(t)
        case .every(let p): o["every"] = .number(p)
        case .afterRequests(let n): o["afterRequests"] = .number(Double(n))
        }
        if revalidate { o["revalidate"] = .bool(true) }
        return .object(o)
    }

    /// The fault in words close to its command-line form ("kill:at=10s").
    public var asCommandLine: String {
        let when: String
        switch trigger {
        case .at(let t): when = "at=\(Self.seconds(t))"
        case .every(let p): when = "every=\(Self.seconds(p))"
        case .afterRequests(let n): when = "after=\(n)"
        }
        return "\(kind.name):\(when)"
    }

    static func seconds(_ s: Double) -> String {
        s == s.rounded() ? "\(Int(s))s" : "\(s)s"
    }
}
