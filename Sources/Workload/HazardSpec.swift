// The hazard part of a scenario workload: which restart hazard to probe,
// on how many files, and the outcome the file expects. The format is in
// workloads/README.md ("Hazard scenarios").
import Foundation
import Contract
import FuseServer
import LoadGen
import ResultModel

/// A figure a hazard probe measures: the names a scenario's "expect" uses.
public enum HazardFigure: String, CaseIterable, Codable, Sendable {
    case outageNs, filesProbed, filesReplaced, inodesReused, wrongDataReads, survivorErrors, deletedStillReadable
    case staleAttributes, staleSize, staleMode, staleMtime, statErrors
    case operations, crashesFired, spuriousErrors, missingEffects, resentRequests, resentRecognised, resentAnomalies
    case unknownNodeIds, applicationErrors
    case descriptors, unlinkedWhileOpen, failedReads, failedWrites, lostUnlinked
    case failedSyncs, lostWrites
    case directoriesProbed, staleData, staleListings, readErrors
    case ioDuringOutage, failedReopens
}

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
    /// Descriptors opened for writing and held across the crash, first
    /// used after it by a request that carries no open flags.
    case heldDescriptors = "held-descriptors"
    /// File pages and directory listings the kernel cached (page cache kept
    /// across opens), changed behind the server while none ran.
    case staleCaches = "stale-caches"
    /// Files open in FUSE passthrough mode across the crash, opened again
    /// after it (the kernel keeps their backing files on the connection).
    case passthroughReopen = "passthrough-reopen"

    /// Scenarios that say something about any server (`--server`):
    /// passthrough-reopen is about our server's passthrough.
    public static let forOtherServers: [HazardKind] = allCases.filter { $0 != .passthroughReopen }

    /// The figures the probe measures (the names "expect" may use).
    public var figures: [HazardFigure] {
        let common: [HazardFigure] = [.outageNs]
        switch self {
        case .inodeReuse:
            return common + [.filesProbed, .filesReplaced, .inodesReused, .wrongDataReads, .survivorErrors,
                             .deletedStillReadable]
        case .staleAttributes:
            return common + [.filesProbed, .staleAttributes, .staleSize, .staleMode, .staleMtime, .statErrors]
        case .resentNonIdempotent:
            return common + [.operations, .crashesFired, .spuriousErrors, .missingEffects, .resentRequests,
                             .resentRecognised, .resentAnomalies]
        case .ephemeralIds:
            return common + [.filesProbed, .unknownNodeIds, .applicationErrors, .wrongDataReads]
        case .openFiles:
            return common + [.descriptors, .unlinkedWhileOpen, .failedReads, .failedWrites, .wrongDataReads,
                             .lostUnlinked]
        case .heldDescriptors:
            return common + [.descriptors, .failedSyncs, .failedWrites, .lostWrites]
        case .staleCaches:
            return common + [.filesProbed, .directoriesProbed, .staleData, .staleListings, .readErrors]
        case .passthroughReopen:
            return common + [.descriptors, .ioDuringOutage, .failedReopens, .failedReads, .failedWrites,
                             .wrongDataReads]
        }
    }
}

extension HazardKind {
    /// "outageNs, filesProbed, ...".
    var figureNames: String { figures.map(\.rawValue).joined(separator: ", ") }
}

/// A scenario: the hazard, its size and its expected outcome.
public struct HazardSpec: Codable, Equatable, Sendable {
    /// Which hazard.
    public var kind: HazardKind
    /// Files the probe uses.
    public var files: Int
    /// Expected outcome: figure -> the most it may be.
    public var expect: [HazardFigure: Double]
    /// The expected outcome in words.
    public var expectation: String

    /// A scenario from its parts.
    public init(kind: HazardKind, files: Int, expect: [HazardFigure: Double], expectation: String) {
        self.kind = kind
        self.files = files
        self.expect = expect
        self.expectation = expectation
    }

    private enum CodingKeys: String, CodingKey { case kind, files, expect, expectation }

    /// Decodes the workload form ("expect" keyed by figure name).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        kind = try c.decode(HazardKind.self, forKey: .kind)
        files = try c.decode(Int.self, forKey: .files)
        expectation = try c.decode(String.self, forKey: .expectation)
        var expect: [HazardFigure: Double] = [:]
        for (name, v) in try c.decode([String: Double].self, forKey: .expect) {
            guard let f = HazardFigure(rawValue: name) else {
                throw DecodingError.dataCorruptedError(forKey: .expect, in: c, debugDescription: "unknown figure \(name)")
            }
            expect[f] = v
        }
        self.expect = expect
    }

    /// Encodes the workload form ("expect" keyed by figure name).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(kind, forKey: .kind)
        try c.encode(files, forKey: .files)
        try c.encode(expectation, forKey: .expectation)
        try c.encode(Dictionary(uniqueKeysWithValues: expect.map { ($0.key.rawValue, $0.value) }), forKey: .expect)
    }

    /// Reads the "hazard" object of a workload.
    static func read(_ r: inout ObjectReader) throws -> HazardSpec {
        let kind: HazardKind = try r.choice("kind", default: nil, HazardKind.allCases)
        let files = try r.int("files", default: 200, range: 4...100_000)
        let expectation = try r.string("expectation", default: "")
        guard var e = try r.object("expect") else {
            throw r.error("expect", "is required: expected an object of figure: maximum, such as "
                          + "{\"wrongDataReads\": 0}; figures of \(kind.rawValue): \(kind.figureNames)")
        }
        var expect: [HazardFigure: Double] = [:]
        for name in e.keys {
            guard let figure = HazardFigure(rawValue: name), kind.figures.contains(figure) else {
                throw e.error(name, "\(kind.rawValue) measures no such figure; expected one of: \(kind.figureNames)")
            }
            expect[figure] = try e.double(name, default: nil, range: 0...1e18)
        }
        guard !expect.isEmpty else { throw r.error("expect", "expected at least one figure: maximum") }
        try e.finish()
        try r.finish()
        return HazardSpec(kind: kind, files: files, expect: expect, expectation: expectation)
    }
}
