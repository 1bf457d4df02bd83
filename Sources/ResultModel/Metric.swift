// A measured number that names its unit and which direction is better.

/// Which way a metric improves.
public enum Better: String, Codable, Sendable {
    /// Bigger values are better (throughput).
    case higher
    /// Smaller values are better (latency, errors).
    case lower
}

/// One measured value with its unit.
public struct Metric: Codable, Equatable, Sendable {
    /// The value.
    public var value: Double
    /// Its unit, e.g. "ops/s", "B/s", "ns", "ratio".
    public var unit: String
    /// Which direction is better.
    public var better: Better

    /// A metric.
    public init(_ value: Double, unit: String, better: Better) {
        self.value = value
        self.unit = unit
        self.better = better
    }

    /// Operations per second.
    public static func opsPerSecond(_ v: Double) -> Metric { Metric(v, unit: "ops/s", better: .higher) }
    /// Bytes per second.
    public static func bytesPerSecond(_ v: Double) -> Metric { Metric(v, unit: "B/s", better: .higher) }
}
