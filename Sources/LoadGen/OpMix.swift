// Picks operations by weight.

/// Cumulative weights of a mix, for picking an operation index.
public struct OpMix: Sendable {
    /// The entries.
    public let specs: [OpSpec]
    private let cumulative: [Double]

    /// The mix of `specs`.
    public init(_ specs: [OpSpec]) {
        self.specs = specs
        var sum = 0.0
        cumulative = specs.map { sum += $0.weight; return sum }
    }

    /// The index of the entry for a uniform draw `u` in [0, 1).
    public func pick(_ u: Double) -> Int {
        let x = u * cumulative.last!
        var lo = 0
        var hi = cumulative.count - 1
        while lo < hi {
            let mid = (lo + hi) / 2
            if cumulative[mid] > x { hi = mid } else { lo = mid + 1 }
        }
        return lo
    }
}
