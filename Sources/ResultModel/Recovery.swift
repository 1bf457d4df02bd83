// Time until throughput recovers after a fault, from a timeline.

/// Throughput recovery on a timeline.
public enum Recovery {
    /// Throughput is judged over spans of 50 ms. A single 10-ms bucket of
    /// a mixed load swings from none to twice the mean (an fsync, two
    /// clients that both wait), so a bucket on its own tells noise, not
    /// recovery. The spans start at every bucket: a run with faults has
    /// 1-ms buckets, so that a recovery is found to the millisecond (with
    /// 10-ms buckets, the first span began up to 10 ms after the fault,
    /// and a fault that cost nothing read as 5 to 10 ms).
    public static let spanNs: UInt64 = 50_000_000

    /// The same measure at control instants, halfway between consecutive
    /// faults (`faultsNs`, from the timeline's start, in order), each
    /// limited by the next fault: what a fault that did nothing would show.
    /// The median, an instant that did not recover before the next fault
    /// counting as the whole span to it (at least half the gap between
    /// the faults); nil with fewer than two faults.
    public static func controlTimeToThroughput(_ t: Timeline, faultsNs: [UInt64], fraction: Double = 0.9) -> UInt64? {
        let values = zip(faultsNs, faultsNs.dropFirst()).compactMap { a, b -> Double? in
            guard b > a else { return nil }
            let mid = a + (b - a) / 2
            switch outcome(t, faultNs: mid, limitNs: b, fraction: fraction) {
            case .recovered(let ns), .notWithin(let ns): return Double(ns)
            case .noBaseline: return nil
            }
        }
        return Statistics.median(values).map { UInt64($0) }
    }

    /// What the measure found after a fault.
    public enum Outcome: Equatable, Sendable {
        /// Back after this many ns.
        case recovered(UInt64)
        /// Not back within this many ns (to the limit).
        case notWithin(UInt64)
        /// No second before the fault to compare with.
        case noBaseline
    }

    /// Nanoseconds until recovery (`outcome`), nil when it did not recover
    /// before the limit or had no baseline.
    public static func timeToThroughput(_ t: Timeline, faultNs: UInt64, limitNs: UInt64,
                                        fraction: Double = 0.9) -> UInt64? {
        if case .recovered(let ns) = outcome(t, faultNs: faultNs, limitNs: limitNs, fraction: fraction) { return ns }
        return nil
    }

    /// Nanoseconds from a fault at `faultNs` (from the timeline's start)
    /// until the start of the first span, beginning at a bucket after the
    /// one the fault fell in, whose count is back to `fraction` of the
    /// median span (at every bucket) of the second before the fault: the
    /// moment throughput is back and stays back for a span. `notWithin`
    /// when no such span ends before `limitNs`; `noBaseline` without a
    /// pre-fault baseline.
    public static func outcome(_ t: Timeline, faultNs: UInt64, limitNs: UInt64, fraction: Double = 0.9) -> Outcome {
        let width = UInt64(t.bucketMs) * 1_000_000
        let span = max(1, Int(spanNs / width))
        let c = t.completed
        let faultBucket = Int(faultNs / width)
        let end = min(faultBucket, c.count)
        let first = max(0, faultBucket - Int(1_000_000_000 / width))
        guard end - first >= span else { return .noBaseline }
        func sum(_ b: Int) -> Double { Double(c[b..<(b + span)].reduce(0, +)) }
        let baseline = (first...(end - span)).map(sum)
        guard let median = Statistics.median(baseline), median > 0 else { return .noBaseline }
        let last = min(c.count, Int(limitNs / width))
        var b = faultBucket + 1
        while b + span <= last {
            if sum(b) >= fraction * median { return .recovered(UInt64(b) * width - faultNs) }
            b += 1
        }
        return .notWithin(limitNs - min(limitNs, faultNs))
    }
}
