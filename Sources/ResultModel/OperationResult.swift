// What one kind of client operation did during the measured phase.
// Throughput, bandwidth and latency count successful operations only: a
// failed operation is not work done, and failing fast must never look
// faster. Failed operations are metrics of their own, by errno.

/// Results of one operation kind.
public struct OperationResult: Codable, Equatable, Sendable {
    /// Successful operations.
    public var count: UInt64
    /// Successful operations per second of the measured phase.
    public var throughput: Metric
    /// Bytes read or written by successful operations, per second.
    public var bandwidth: Metric
    /// Latency of the successful operations.
    public var latency: LatencyDistribution
    /// Failed operations by errno name ("ENOENT": 3); empty when none.
    public var errors: [String: UInt64]
    /// Failed operations per second of the measured phase, by errno name;
    /// left out when none failed.
    public var errorRates: [String: Double]?

    /// A result from its parts; `seconds` is the measured phase, for the
    /// error rates.
    public init(count: UInt64, throughput: Metric, bandwidth: Metric, latency: LatencyDistribution,
                errors: [String: UInt64], seconds: Double? = nil) {
        self.count = count
        self.throughput = throughput
        self.bandwidth = bandwidth
        self.latency = latency
        self.errors = errors
        if let seconds, seconds > 0, !errors.isEmpty {
            errorRates = errors.mapValues { Double($0) / seconds }
        }
    }

    /// Number of failed operations.
    public var errorCount: UInt64 { errors.values.reduce(0, +) }
    /// Failed operations per second of the measured phase.
    public var errorRate: Double { errorRates?.values.reduce(0, +) ?? 0 }
    /// Operations attempted: successful and failed.
    public var attempted: UInt64 { count + errorCount }
}
