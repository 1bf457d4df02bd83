// Turns a stats region into the ServerReport of a result.
import CFuseShim
import ResultModel

extension StatsRegion {
    /// A snapshot of the counters as a report.
    public func report() -> ServerReport {
        let r = region
        var opcodes: [String: OpcodeReport] = [:]
        withUnsafeMutablePointer(to: &r.pointee.ops) { tuple in
            tuple.withMemoryRebound(to: fbshim_op_stats.self, capacity: Int(FBSHIM_STATS_OPCODES)) { ops in
                for op in Opcode.allCases {
                    let s = ops.advanced(by: op.rawValue)
                    let count = fbshim_atomic_load(&s.pointee.count)
                    guard count > 0 else { continue }
                    let buckets = withUnsafeMutablePointer(to: &s.pointee.buckets) { b in
                        b.withMemoryRebound(to: UInt64.self, capacity: Int(FBSHIM_HIST_BUCKETS)) { p in
                            (0..<Int(FBSHIM_HIST_BUCKETS)).map { fbshim_atomic_load(p + $0) }
                        }
                    }
                    opcodes[op.name] = OpcodeReport(
                        count: count, errors: fbshim_atomic_load(&s.pointee.errors),
                        serviceTime: LatencyDistribution(buckets: buckets,
                                                         totalNs: fbshim_atomic_load(&s.pointee.total_ns),
                                                         maxValue: fbshim_atomic_load(&s.pointee.max_ns)))
                }
            }
        }
        let proto = r.pointee.proto_major > 0 ? "\(r.pointee.proto_major).\(r.pointee.proto_minor)" : nil
        return ServerReport(pid: Int(r.pointee.pid), fuseProtocol: proto,
                            requests: fbshim_atomic_load(&r.pointee.requests),
                            unknownNodeIds: fbshim_atomic_load(&r.pointee.unknown_nodes),
                            nodes: fbshim_atomic_load(&r.pointee.nodes),
                            cachedDescriptors: fbshim_atomic_load(&r.pointee.cached_fds), opcodes: opcodes)
    }
}
