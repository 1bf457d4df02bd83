// Latency percentiles in nanoseconds, from an HDR histogram (client side)
// or from the server's shared log-linear buckets.
import CFuseShim
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

    /// From log-linear bucket counts (the server's stats region): each
    /// percentile is the upper bound of its bucket, capped by `maxValue`.
    public init(buckets: [UInt64], totalNs: UInt64, maxValue: UInt64) {
        let count = buckets.reduce(0, +)
        guard count > 0 else {
            self = .empty
            return
        }
        func percentile(_ p: Double) -> UInt64 {
            let rank = UInt64((p / 100 * Double(count)).rounded(.up))
            var seen: UInt64 = 0
            for (i, c) in buckets.enumerated() where c > 0 {
                seen += c
                if seen >= Swift.max(rank, 1) { return Swift.min(fbshim_hist_upper(Int32(i)), maxValue) }
            }
            return maxValue
        }
        let first = buckets.firstIndex { $0 > 0 }!
        self.init(count: count, min: fbshim_hist_lower(Int32(first)), mean: Double(totalNs) / Double(count),
                  p50: percentile(50), p90: percentile(90), p99: percentile(99),
                  p999: percentile(99.9), max: maxValue)
    }
}
