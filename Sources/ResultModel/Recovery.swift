// Time until throughput recovers after a fault, from a timeline.

/// Throughput recovery on a timeline.
public enum Recovery {
    /// Nanoseconds from a fault at `faultNs` (from the timeline's start)
    /// until the first bucket, after the one the fault fell in, whose count
    /// is back to `fraction` of the median of the buckets in the second
    /// before the fault; measured to that bucket's end. nil when no bucket
    /// before `limitNs` recovers, or when there is no pre-fault baseline.
    public static func timeToThroughput(_ t: Timeline, faultNs: UInt64, limitNs: UInt64,
                                        fraction: Double = 0.9) -> UInt64? {
        let width = UInt64(t.bucketMs) * 1_000_000
        let faultBucket = Int(faultNs / width)
        let end = min(faultBucket, t.completed.count)
        let baseline = t.completed[min(end, max(0, faultBucket - Int(1_000_000_000 / width)))..<end]
        guard !baseline.isEmpty else { return nil }
        guard let median = Statistics.median(baseline.map { Double($0) }), median > 0 else { return nil }
        let last = min(t.completed.count, Int((limitNs + width - 1) / width))
        var b = faultBucket + 1
        while b < last {
            if Double(t.completed[b]) >= fraction * median {
                return UInt64(b + 1) * width - faultNs
            }
            b += 1
        }
        return nil
    }
}
