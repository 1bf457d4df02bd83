// Turns a stats region into the ServerReport of a result.
import CFuseShim
import ResultModel

extension StatsRegion {
    /// A snapshot of the counters as a report.
    public func report() -> ServerReport {
        let r = region
        var opcodes: [String: OpcodeReport] = [:]
        let io = ioCounts()
        withUnsafeMutablePointer(to: &r.pointee.ops) { tuple in
            tuple.withMemoryRebound(to: fbshim_op_stats.self, capacity: Int(FBSHIM_STATS_OPCODES)) { ops in
                for op in Opcode.allCases {
                    let s = ops.advanced(by: op.rawValue)
                    let count = fbshim_atomic_load(&s.pointee.count)
                    let seen = io[op.rawValue]
                    guard count > 0 || seen.received > 0 else { continue }
                    let buckets = withUnsafeMutablePointer(to: &s.pointee.buckets) { b in
                        b.withMemoryRebound(to: UInt64.self, capacity: Int(FBSHIM_HIST_BUCKETS)) { p in
                            (0..<Int(FBSHIM_HIST_BUCKETS)).map { fbshim_atomic_load(p + $0) }
                        }
                    }
                    opcodes[op.name] = OpcodeReport(
                        count: count, errors: fbshim_atomic_load(&s.pointee.errors),
                        serviceTime: LatencyDistribution(buckets: buckets,
                                                         totalNs: fbshim_atomic_load(&s.pointee.total_ns),
                                                         maxValue: fbshim_atomic_load(&s.pointee.max_ns)),
                        received: seen.received, requestBytes: seen.inBytes, replyBytes: seen.outBytes)
                }
            }
        }
        let proto = r.pointee.proto_major > 0 ? "\(r.pointee.proto_major).\(r.pointee.proto_minor)" : nil
        var report = ServerReport(pid: Int(r.pointee.pid), fuseProtocol: proto,
                                  requests: fbshim_atomic_load(&r.pointee.requests),
                                  unknownNodeIds: fbshim_atomic_load(&r.pointee.unknown_nodes),
                                  nodes: fbshim_atomic_load(&r.pointee.nodes),
                                  cachedDescriptors: fbshim_atomic_load(&r.pointee.cached_fds), opcodes: opcodes)
        report.instance = Int(r.pointee.instance)
        report.resentRequests = fbshim_atomic_load(&r.pointee.resent)
        report.resentAnomalies = fbshim_atomic_load(&r.pointee.resent_anomalies)
        report.resentRecognised = fbshim_atomic_load(&r.pointee.resent_recognised)
        let own = fbshim_atomic_load(&r.pointee.resent_own)
        report.resentOwn = own == 0 ? nil : own
        let rehearsed = fbshim_atomic_load(&r.pointee.rehearsed)
        report.rehearsedRequests = rehearsed == 0 ? nil : rehearsed
        report.reopenedHandles = fbshim_atomic_load(&r.pointee.reopened)
        report.refusedHandles = fbshim_atomic_load(&r.pointee.stale_handles)
        report.revalidationNs = fbshim_atomic_load(&r.pointee.revalidation_ns)
        report.entryRevalidationNs = fbshim_atomic_load(&r.pointee.entry_revalidation_ns)
        report.revalidationNotifications = fbshim_atomic_load(&r.pointee.revalidation_notifies)
        report.notificationBytes = io[0].outBytes
        let added = fbshim_atomic_load(&r.pointee.init_reply_added)
        report.initFlagsAdded = Self.initFlagNames.filter { added & $0.bit != 0 }.map(\.name)
        report.passthroughOpens = fbshim_atomic_load(&r.pointee.passthrough_opens)
        report.backingFilesRegistered = fbshim_atomic_load(&r.pointee.backing_registered)
        report.passthroughRefused = fbshim_atomic_load(&r.pointee.passthrough_refused)
        report.passthroughReused = fbshim_atomic_load(&r.pointee.passthrough_reused)
        report.backingFilesIdle = fbshim_atomic_load(&r.pointee.backing_idle)
        report.ioUringQueues = fbshim_atomic_load(&r.pointee.uring_queues)
        report.ioUringRequests = fbshim_atomic_load(&r.pointee.uring_requests)
        let uringError = fbshim_atomic_load(&r.pointee.uring_error)
        report.ioUringError = uringError == 0 ? nil : errnoName(Int32(uringError))
        return report
    }

    /// The INIT flags a server may add to libfuse 3.14's reply (ServerIO).
    static let initFlagNames: [(bit: UInt64, name: String)] = [
        (1 << 18, "PARALLEL_DIROPS"), (1 << 28, "HANDLE_KILLPRIV_V2"), (1 << 37, "PASSTHROUGH"),
        (1 << 41, "OVER_IO_URING"),
    ]

    /// What crossed /dev/fuse, indexed by opcode number (0: notifications).
    func ioCounts() -> [(received: UInt64, inBytes: UInt64, outBytes: UInt64)] {
        withUnsafeMutablePointer(to: &region.pointee.io) { tuple in
            tuple.withMemoryRebound(to: fbshim_op_io.self, capacity: Int(FBSHIM_STATS_OPCODES)) { io in
                (0..<Int(FBSHIM_STATS_OPCODES)).map { i in
                    let e = io.advanced(by: i)
                    return (fbshim_atomic_load(&e.pointee.received), fbshim_atomic_load(&e.pointee.in_bytes),
                            fbshim_atomic_load(&e.pointee.out_bytes))
                }
            }
        }
    }
}

extension StatsRegion {
    /// Requests answered so far, by opcode name (a cheap snapshot).
    public func opcodeCounts() -> [String: UInt64] {
        var out: [String: UInt64] = [:]
        withUnsafeMutablePointer(to: &region.pointee.ops) { tuple in
            tuple.withMemoryRebound(to: fbshim_op_stats.self, capacity: Int(FBSHIM_STATS_OPCODES)) { ops in
                for op in Opcode.allCases {
                    let c = fbshim_atomic_load(&ops.advanced(by: op.rawValue).pointee.count)
                    if c > 0 { out[op.name] = c }
                }
            }
        }
        return out
    }

    /// Whether the eager storm's entry invalidations (sent while serving)
    /// are all sent.
    public var entryRevalidationDone: Bool { fbshim_atomic_load(&region.pointee.entry_revalidation_ns) != 0 }

    /// Monotonic time of the first reply (0: none yet).
    public var firstReplyNs: UInt64 { fbshim_atomic_load(&region.pointee.first_reply_ns) }
    /// When a warm standby was let through its gate (0: not a standby, or not yet).
    public var goNs: UInt64 { fbshim_atomic_load(&region.pointee.go_ns) }
    /// The latest reply to a request re-delivered by FUSE_NOTIFY_RESEND (0: none).
    public var resentRepliedNs: UInt64 { fbshim_atomic_load(&region.pointee.resent_replied_ns) }
    /// When a resuming server read its first request after its gate (0: not yet).
    public var firstRequestNs: UInt64 { fbshim_atomic_load(&region.pointee.first_request_ns) }
    /// Monotonic time at which an injected crash fired (0: none).
    public var crashNs: UInt64 { fbshim_atomic_load(&region.pointee.crash_ns) }
    /// Requests answered.
    public var requests: UInt64 { fbshim_atomic_load(&region.pointee.requests) }
    /// The connection's FUSE_INIT request as the first server read it.
    public var savedInitRequest: [UInt8]? {
        let n = Int(fbshim_atomic_load(&region.pointee.init_len))
        guard n >= 40 else { return nil }
        return withUnsafeBytes(of: &region.pointee.init_bytes) { Array($0.prefix(n)) }
    }

    /// Saves the connection's FUSE_INIT request as the first server read it.
    public func saveInit(_ buf: UnsafeRawPointer, _ n: Int) {
        withUnsafeMutableBytes(of: &region.pointee.init_bytes) { dst in
            let count = min(n, dst.count)
            dst.baseAddress!.copyMemory(from: buf, byteCount: count)
            fbshim_atomic_store(&region.pointee.init_len, UInt64(count))
        }
    }

    /// Saves `bytes` as the connection's FUSE_INIT request (for a resuming
    /// server that reads it from here: the preload shim).
    public func saveInitRequest(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { saveInit($0.baseAddress!, $0.count) }
    }

    /// Monotonic time FUSE_INIT was answered (0: not yet).
    public var initNs: UInt64 { fbshim_atomic_load_acquire(&region.pointee.init_ns) }
    /// Requests the preload shim saw on the device (0: none, or no shim).
    public var shimRequestsSeen: UInt64 { fbshim_atomic_load(&region.pointee.shim_requests_seen) }
    /// Whether the preload shim replayed the saved FUSE_INIT (a resume).
    public var shimReplayed: Bool { fbshim_atomic_load(&region.pointee.shim_replayed) != 0 }

    /// Disarms the crash and kill hooks.
    public func disarm() {
        fbshim_atomic_store(&region.pointee.crash_armed, 0)
        fbshim_atomic_store(&region.pointee.kill_after_requests, 0)
    }
}
