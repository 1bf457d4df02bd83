// A small, fast, seedable random generator for choosing operations and
// files (SplitMix64): each thread gets its own, seeded from the workload
// seed and the thread index, so runs are repeatable.

/// SplitMix64.
public struct SplitMix: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// A generator for `seed` and `stream`.
    public init(seed: UInt64, stream: UInt64) {
        state = seed &* 0x9E37_79B9_7F4A_7C15 ^ (stream &+ 1) &* 0xBF58_476D_1CE4_E5B9
    }

    /// Next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A value in 0..<n (n > 0).
    @inline(__always)
    public mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}
