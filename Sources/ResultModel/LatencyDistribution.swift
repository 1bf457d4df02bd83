// Latency percentiles in nanoseconds, from an HDR histogram (client side)
// or from the server's shared log-linear buckets.
import Histogram

/// Percentiles of a latency distribution.
public struct LatencyDistribution: Codable, Equatable, Sendable {
    /// Always "ns".
    public var unit = "ns"
    /// Always lower.
    public var better = Better.lower
    /// Number of samples.
    public var count: UInt64
    /// Smallest sample.
    public var min: UInt64
    /// Arithmetic mean.
    public var mean: Double
    /// Median.
    public var p50: UInt64
    /// 90th percentile.
    public var p90: UInt64
    /// 99th percentile.
    public var p99: UInt64
    /// 99.9th percentile.
    public var p999: UInt64
    /// Largest sample.
    public var max: UInt64

    /// A distribution from its parts.
    public init(count: UInt64, min: UInt64, mean: Double, p50: UInt64, p90: UInt64, p99: UInt64,
                p999: UInt64, max: UInt64) {
        self.count = count
        self.min = min
        self.mean = mean
        self.p50 = p50
        self.p90 = p90
        self.p99 = p99
        self.p999 = p999
        self.max = max
    }

    /// The empty distribution.
    public static let empty = LatencyDistribution(count: 0, min: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0)

    /// From an HDR histogram.
    public init(_ h: Histogram<UInt64>) {
        guard h.totalCount > 0 else {
            self = .empty
            return
        }
        self.init(count: h.totalCount, min: h.min, mean: h.mean,
                  p50: h.valueAtPercentile(50), p90: h.valueAtPercentile(90),
                  p99: h.valueAtPercentile(99), p999: h.valueAtPercentile(99.9), max: h.max)
    }
}
