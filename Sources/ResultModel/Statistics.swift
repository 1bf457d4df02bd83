// Small statistics for comparing repeated measurements: medians and the
// Mann-Whitney U test (exact for small samples without ties, normal
// approximation with tie correction otherwise).
import Foundation

/// Statistics on samples.
public enum Statistics {
    /// The median; nil for no samples.
    /// The mean and the sample standard deviation (0 for fewer than two values).
    public static func meanAndDeviation(_ v: [Double]) -> (mean: Double, sd: Double) {
        let n = Double(v.count)
        let mean = v.reduce(0, +) / max(n, 1)
        let sd = n > 1 ? (v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / (n - 1)).squareRoot() : 0
        return (mean, sd)
    }

    public static func median(_ v: [Double]) -> Double? {
        let s = v.sorted()
        guard !s.isEmpty else { return nil }
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    /// Mann-Whitney U of `a` against `b` and the two-sided p-value of the
    /// hypothesis that both come from the same distribution.
    public static func mannWhitney(_ a: [Double], _ b: [Double]) -> (u: Double, p: Double?) {
        let n1 = a.count, n2 = b.count
        // No test can run on an empty sample, or on samples all equal (no
        // ranking to test): p is nil, never a 1.000 that looks measured.
        guard n1 > 0, n2 > 0 else { return (0, nil) }
        if let first = a.first, (a + b).allSatisfy({ $0 == first }) { return (0, nil) }
        // Ranks over the pooled samples, ties get their mean rank.
        let pooled = (a.map { ($0, 0) } + b.map { ($0, 1) }).sorted { $0.0 < $1.0 }
        var ranks = [Double](repeating: 0, count: pooled.count)
        var tieTerm = 0.0
        var i = 0
        while i < pooled.count {
            var j = i
            while j + 1 < pooled.count && pooled[j + 1].0 == pooled[i].0 { j += 1 }
            let r = Double(i + j) / 2 + 1
            for k in i...j { ranks[k] = r }
            let t = Double(j - i + 1)
            tieTerm += t * t * t - t
            i = j + 1
        }
        let r1 = zip(pooled, ranks).filter { $0.0.1 == 0 }.reduce(0) { $0 + $1.1 }
        let u1 = r1 - Double(n1 * (n1 + 1)) / 2
        let u = min(u1, Double(n1 * n2) - u1)
        if tieTerm == 0 && n1 * n2 <= 400 {
            return (u, min(1, 2 * exactLowerTail(Int(u), n1, n2)))
        }
        let n = Double(n1 + n2)
        let mean = Double(n1 * n2) / 2
        let variance = Double(n1 * n2) / 12 * ((n + 1) - tieTerm / (n * (n - 1)))
        guard variance > 0 else { return (u, nil) }
        let z = (abs(u - mean) - 0.5) / variance.squareRoot()
        return (u, min(1, max(0, erfc(z / 2.squareRoot()))))
    }

    /// P(U <= u) for samples of sizes n1 and n2 without ties, by counting
    /// arrangements: c(i, j, k) = c(i-1, j, k-j) + c(i, j-1, k), where the
    /// largest of the i + j values comes from the first sample (and beats
    /// all j of the second) or from the second.
    static func exactLowerTail(_ u: Int, _ n1: Int, _ n2: Int) -> Double {
        let maxU = n1 * n2
        let zero = [Double](repeating: 0, count: maxU + 1)
        // prev[j][k] = c(i-1, j, k); cur[j][k] = c(i, j, k).
        var prev = [[Double]](repeating: zero, count: n2 + 1)
        for j in 0...n2 { prev[j][0] = 1 }
        if n1 > 0 {
            for _ in 1...n1 {
                var cur = [[Double]](repeating: zero, count: n2 + 1)
                cur[0][0] = 1
                if n2 > 0 {
                    for j in 1...n2 {
                        for k in 0...maxU {
                            cur[j][k] = (k >= j ? prev[j][k - j] : 0) + cur[j - 1][k]
                        }
                    }
                }
                prev = cur
            }
        }
        let counts = prev[n2]
        let total = counts.reduce(0, +)
        return counts[0...min(max(u, 0), maxU)].reduce(0, +) / total
    }
}
