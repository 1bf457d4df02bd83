// The hazard part of a scenario workload: which restart hazard to probe,
// on how many files, and the outcome the file expects. The format is in
// workloads/README.md ("Hazard scenarios").
import Foundation
import Contract
import FuseServer
import LoadGen
import ResultModel

/// The restart hazards raised in the kernel discussion.
public enum HazardKind: String, CaseIterable, Codable, Sendable {
    /// Inode numbers reused behind the dead server's back.
    case inodeReuse = "inode-reuse"
    /// Files changed during the outage while the kernel caches their
    /// attributes with long timeouts.
    case staleAttributes = "stale-attributes"
    /// create, mkdir, unlink and rename in flight at the crash, resent.
    case resentNonIdempotent = "resent-non-idempotent"
    /// Node ids the kernel cached that the new server does not know.
    case ephemeralIds = "ephemeral-ids"
    /// Reads and writes on descriptors opened before the crash, including
    /// files unlinked while open.
    case openFiles = "open-files"

    /// The figures the probe measures (the names "expect" may use).
    public var figures: [String] {
        let common = ["outageNs"]
        switch self {
        case .inodeReuse:
            return common + ["filesProbed", "filesReplaced", "inodesReused", "wrongDataReads", "survivorErrors",
                             "deletedStillReadable"]
        case .staleAttributes:
            return common + ["filesProbed", "staleAttributes", "staleSize", "staleMode", "staleMtime", "statErrors"]
        case .resentNonIdempotent:
            return common + ["operations", "crashesFired", "spuriousErrors", "missingEffects", "resentRequests",
                             "resentRecognised", "resentAnomalies"]
        case .ephemeralIds:
            return common + ["filesProbed", "unknownNodeIds", "applicationErrors", "wrongDataReads"]
        case .openFiles:
            return common + ["descriptors", "unlinkedWhileOpen", "failedReads", "failedWrites", "wrongDataReads",
                             "lostUnlinked"]
        }
    }
}

/// A scenario: the hazard, its size and its expected outcome.
public struct HazardSpec: Codable, Equatable, Sendable {
    /// Which hazard.
    public var kind: HazardKind
    /// Files the probe uses.
    public var files: Int
    /// Expected outcome: figure -> the most it may be.
    public var expect: [String: Double]
    /// The expected outcome in words.
    public var expectation: String

    /// Reads the "hazard" object of a workload.
    static func read(_ r: inout ObjectReader) throws -> HazardSpec {
        let kind: HazardKind = try r.choice("kind", default: nil, HazardKind.allCases)
        let files = try r.int("files", default: 200, range: 4...100_000)
        let expectation = try r.string("expectation", default: "")
        guard var e = try r.object("expect") else {
            throw r.error("expect", "is required: expected an object of figure: maximum, such as "
                          + "{\"wrongDataReads\": 0}; figures of \(kind.rawValue): \(kind.figures.joined(separator: ", "))")
        }
        var expect: [String: Double] = [:]
        for figure in e.keys {
            guard kind.figures.contains(figure) else {
                throw e.error(figure, "\(kind.rawValue) measures no such figure; expected one of: "
                              + kind.figures.joined(separator: ", "))
            }
            expect[figure] = try e.double(figure, default: nil, range: 0...1e18)
        }
        guard !expect.isEmpty else { throw r.error("expect", "expected at least one figure: maximum") }
        try e.finish()
        try r.finish()
        return HazardSpec(kind: kind, files: files, expect: expect, expectation: expectation)
    }
}
