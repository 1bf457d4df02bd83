// The reconciliation of a run: the FUSE requests the server saw, by opcode,
// against the client operations that caused them. Requests per operation
// and bytes per operation are exact for a given kernel and workload (with a
// fixed operation count, one client thread and no warm-up): a change that
// adds one GETXATTR per write or one FLUSH per close shows on any machine,
// however loaded, which is what the CI gate relies on.

/// One opcode's requests over a run.
public struct OpcodeAccount: Codable, Equatable, Sendable {
    /// Requests read from /dev/fuse.
    public var received: UInt64
    /// Requests answered (FORGET counts as answered: it has no reply).
    public var answered: UInt64
    /// Requests answered with an error.
    public var failed: UInt64
    /// Bytes of the requests, headers included.
    public var requestBytes: UInt64
    /// Bytes of the replies, headers included.
    public var replyBytes: UInt64
    /// Requests read per client operation.
    public var perOperation: Double

    /// An account from its parts.
    public init(received: UInt64, answered: UInt64, failed: UInt64, requestBytes: UInt64, replyBytes: UInt64,
                perOperation: Double) {
        self.received = received
        self.answered = answered
        self.failed = failed
        self.requestBytes = requestBytes
        self.replyBytes = replyBytes
        self.perOperation = perOperation
    }
}

/// Requests against client operations, from the start of the load (warm-up
/// included) until the server had been quiet after it.
public struct RequestAccounting: Codable, Equatable, Sendable {
    /// Client operations issued, failed ones included, by kind.
    public var clientOperations: [String: UInt64]
    /// Bytes the client operations read or wrote.
    public var clientBytes: UInt64
    /// Per opcode ("LOOKUP"); opcodes never seen are left out.
    public var opcodes: [String: OpcodeAccount]
    /// All requests read per client operation.
    public var requestsPerOperation: Double
    /// Request bytes (into the server) per client operation.
    public var requestBytesPerOperation: Double
    /// Reply bytes (out of the server) per client operation.
    public var replyBytesPerOperation: Double
    /// Bytes of notifications the server sent, per client operation.
    public var notificationBytesPerOperation: Double?
    /// Differences between requests read and answered, one sentence each
    /// ("READ: 3 read, 2 answered"): requests lost in a crash, or a reply
    /// the server never sent. Empty when every request was answered.
    public var discrepancies: [String]

    /// Opcodes whose counts depend on timing rather than on the operations:
    /// the kernel sends forgets when it evicts inodes, one by one or batched.
    public static let timingDependent: Set<String> = ["FORGET", "BATCH_FORGET", "INTERRUPT"]

    /// Requests, request bytes and reply bytes per client operation over the
    /// opcodes whose counts follow from the operations alone (forgets left
    /// out): the exact figures a fixed sequence of operations gives.
    public var exactPerOperation: (requests: Double, requestBytes: Double, replyBytes: Double) {
        Self.perOperation(opcodes.filter { !Self.timingDependent.contains($0.key) }.values,
                          operations: Double(max(1, totalOperations)))
    }

    static func perOperation(_ accounts: some Sequence<OpcodeAccount>, operations: Double)
        -> (requests: Double, requestBytes: Double, replyBytes: Double) {
        var r: UInt64 = 0, qb: UInt64 = 0, pb: UInt64 = 0
        for a in accounts {
            r += a.received
            qb += a.requestBytes
            pb += a.replyBytes
        }
        return (Double(r) / operations, Double(qb) / operations, Double(pb) / operations)
    }

    /// All client operations.
    public var totalOperations: UInt64 { clientOperations.values.reduce(0, +) }

    /// The account of the requests between two snapshots of the servers'
    /// per-opcode counters (`after` sums every instance of the run).
    public init(clientOperations: [String: UInt64], clientBytes: UInt64, before: [String: OpcodeReport],
                after: [String: OpcodeReport], notificationBytes: UInt64?) {
        self.clientOperations = clientOperations
        self.clientBytes = clientBytes
        let ops = Double(max(1, clientOperations.values.reduce(0, +)))
        var opcodes: [String: OpcodeAccount] = [:]
        var discrepancies: [String] = []
        for (name, a) in after {
            let b = before[name]
            func diff(_ f: (OpcodeReport) -> UInt64?) -> UInt64 {
                let x = f(a) ?? 0, y = b.flatMap(f) ?? 0
                return x > y ? x - y : 0
            }
            let received = diff(\.received), answered = diff { $0.count }
            guard received > 0 || answered > 0 else { continue }
            opcodes[name] = OpcodeAccount(received: received, answered: answered, failed: diff { $0.errors },
                                          requestBytes: diff(\.requestBytes), replyBytes: diff(\.replyBytes),
                                          perOperation: Double(received) / ops)
            // INIT is answered by libfuse itself, INTERRUPT never.
            if received != answered && name != "INIT" && name != "INTERRUPT" {
                discrepancies.append("\(name): \(received) read, \(answered) answered")
            }
        }
        self.opcodes = opcodes
        self.discrepancies = discrepancies.sorted()
        (requestsPerOperation, requestBytesPerOperation, replyBytesPerOperation) =
            Self.perOperation(opcodes.values, operations: ops)
        notificationBytesPerOperation = notificationBytes.map { Double($0) / ops }
    }
}

extension ServerReport {
    /// Per-opcode counters of several server instances added up.
    public static func summedOpcodes(_ reports: [ServerReport]) -> [String: OpcodeReport] {
        var out: [String: OpcodeReport] = [:]
        for r in reports {
            for (name, o) in r.opcodes {
                var s = out[name] ?? OpcodeReport(count: 0, errors: 0, serviceTime: .empty, received: 0,
                                                  requestBytes: 0, replyBytes: 0)
                s.count += o.count
                s.errors += o.errors
                s.received = (s.received ?? 0) + (o.received ?? 0)
                s.requestBytes = (s.requestBytes ?? 0) + (o.requestBytes ?? 0)
                s.replyBytes = (s.replyBytes ?? 0) + (o.replyBytes ?? 0)
                out[name] = s
            }
        }
        return out
    }
}
