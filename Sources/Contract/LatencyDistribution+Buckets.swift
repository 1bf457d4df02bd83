// Latency distributions from the stats region's log-linear buckets (16 per
// power of two; the layout is CFuseShim's, shared with the server).
import CFuseShim
import ResultModel

extension LatencyDistribution {
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
