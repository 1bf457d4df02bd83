// What one kind of client operation did during the measured phase.

/// Results of one operation kind.
public struct OperationResult: Codable, Equatable, Sendable {
    /// Completed operations (failed ones included).
    public var count: UInt64
    /// Completed operations per second of the measured phase.
    public var throughput: Metric
    /// Bytes read or written per second.
    public var bandwidth: Metric
    /// Latency of every completed operation, failed ones included.
    public var latency: LatencyDistribution
    /// Failed operations by errno name ("ENOENT": 3); empty when none.
    public var errors: [String: UInt64]

    /// A result from its parts.
    public init(count: UInt64, throughput: Metric, bandwidth: Metric, latency: LatencyDistribution,
                errors: [String: UInt64]) {
        self.count = count
        self.throughput = throughput
        self.bandwidth = bandwidth
        self.latency = latency
        self.errors = errors
    }

    /// Number of failed operations.
    public var errorCount: UInt64 { errors.values.reduce(0, +) }
}
