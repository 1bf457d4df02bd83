// Throughput over time, in fixed buckets from the start of the measured
// phase.

/// Completed and failed operations per time bucket.
public struct Timeline: Codable, Equatable, Sendable {
    /// Width of one bucket in milliseconds.
    public var bucketMs: Int
    /// Always "ops/bucket".
    public var unit = "ops/bucket"
    /// Operations completed in each bucket (failed ones included).
    public var completed: [UInt64]
    /// Operations that failed in each bucket.
    public var errors: [UInt64]

    /// A timeline from its parts.
    public init(bucketMs: Int, completed: [UInt64], errors: [UInt64]) {
        self.bucketMs = bucketMs
        self.completed = completed
        self.errors = errors
    }
}

extension Timeline {
    /// Successful operations per bucket (completed minus failed).
    public var succeeded: [UInt64] { zip(completed, errors).map { $0 - min($0, $1) } }
}
