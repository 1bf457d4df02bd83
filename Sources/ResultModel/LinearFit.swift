// Least-squares lines through sweep points: cost per inode of a restart
// strategy, and whether it stays flat as the number of cached inodes grows.

/// A fitted line y = intercept + slope * x.
public struct LinearFit: Codable, Equatable, Sendable {
    /// Strategy (or run label) the points belong to.
    public var strategy: String
    /// What was fitted, e.g. "revalidationSweep".
    public var metric: String
    /// Unit of y ("ns", "requests").
    public var unit: String
    /// What x is, e.g. "cached inodes".
    public var x: String
    /// Change of y per unit of x.
    public var slope: Double
    /// y at x = 0.
    public var intercept: Double
    /// Coefficient of determination.
    public var r2: Double
    /// Number of points.
    public var points: Int

    /// Fits `pts`; nil with fewer than two distinct x.
    public static func fit(_ pts: [(Double, Double)], strategy: String, metric: String, unit: String,
                           x: String) -> LinearFit? {
        let n = Double(pts.count)
        guard pts.count >= 2, Set(pts.map(\.0)).count >= 2 else { return nil }
        let mx = pts.reduce(0) { $0 + $1.0 } / n, my = pts.reduce(0) { $0 + $1.1 } / n
        let sxx = pts.reduce(0) { $0 + ($1.0 - mx) * ($1.0 - mx) }
        let sxy = pts.reduce(0) { $0 + ($1.0 - mx) * ($1.1 - my) }
        let slope = sxy / sxx
        let intercept = my - slope * mx
        let ssTot = pts.reduce(0) { $0 + ($1.1 - my) * ($1.1 - my) }
        let ssRes = pts.reduce(0) { $0 + pow2($1.1 - (intercept + slope * $1.0)) }
        return LinearFit(strategy: strategy, metric: metric, unit: unit, x: x, slope: slope, intercept: intercept,
                         r2: ssTot > 0 ? 1 - ssRes / ssTot : 1, points: pts.count)
    }

    /// Fits of a revalidation sweep: per strategy, against the number of
    /// primed (cached) inodes, the time and requests to make every file
    /// usable again and the outage.
    public static func revalidationFits(_ runs: [RunResult]) -> [LinearFit] {
        let swept = runs.filter { $0.primedFiles != nil && $0.faults?.contains { $0.revalidationSweep != nil } == true }
        var out: [LinearFit] = []
        for (strategy, rs) in Dictionary(grouping: swept, by: { $0.strategy ?? $0.target }).sorted(by: { $0.key < $1.key }) {
            func points(_ f: (FaultEvent) -> Double?) -> [(Double, Double)] {
                rs.compactMap { r in
                    guard let e = r.faults?.first(where: { $0.revalidationSweep != nil }), let y = f(e) else { return nil }
                    return (Double(r.primedFiles!), y)
                }
            }
            let specs: [(String, String, (FaultEvent) -> Double?)] = [
                ("revalidationSweep", "ns", { $0.revalidationSweep?.value }),
                ("revalidationRequests", "requests", { Double($0.revalidationLookups) }),
                ("outageToServerReply", "ns", { $0.outageToServerReply?.value ?? 0 }),
            ]
            for (metric, unit, f) in specs {
                if let fit = fit(points(f), strategy: strategy, metric: metric, unit: unit, x: "cached inodes") {
                    out.append(fit)
                }
            }
        }
        // Server memory against cached inodes (primed runs that measured it).
        let sized = runs.filter { $0.primedFiles != nil && $0.serverResidentBytes != nil }
        for (target, rs) in Dictionary(grouping: sized, by: { $0.strategy ?? $0.target }).sorted(by: { $0.key < $1.key }) {
            let points = rs.map { (Double($0.primedFiles!), Double($0.serverResidentBytes!)) }
            if let fit = fit(points, strategy: target, metric: "serverResidentBytes", unit: "B", x: "cached inodes") {
                out.append(fit)
            }
        }
        // Kernel slab memory against cached inodes.
        let slabbed = runs.filter { $0.primedFiles != nil && $0.primedSlabBytes != nil }
        for (target, rs) in Dictionary(grouping: slabbed, by: { $0.strategy ?? $0.target }).sorted(by: { $0.key < $1.key }) {
            let points = rs.map { (Double($0.primedFiles!), Double($0.primedSlabBytes!.values.reduce(0, +))) }
            if let fit = fit(points, strategy: target, metric: "kernelSlabBytes", unit: "B", x: "cached inodes") {
                out.append(fit)
            }
        }
        return out
    }
}

private func pow2(_ v: Double) -> Double { v * v }
