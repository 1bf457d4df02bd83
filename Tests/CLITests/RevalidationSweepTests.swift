// A small revalidation sweep on real mounts: the eager storm and the epoch
// bump cost requests per cached inode after a restart, lazy handles none.
import Foundation
import ResultModel
import TestSupport
import XCTest

final class RevalidationSweepTests: XCTestCase {
    func testStormGrowsWithCachedInodesAndLazyStaysFlat() throws {
        try Isolation.requireMountSandbox()
        let dir = try TempDir("sweep")
        let workload = dir.file("w.json")
        try """
            {"name":"rs","threads":1,"warmup":"0.1s","duration":"0.8s","prime":true,
             "fileset":{"dirs":4,"filesPerDir":25,"fileSize":0},
             "sweep":{"field":"fileset.filesPerDir","values":[25,100]},
             "mix":[{"op":"stat","weight":1}],
             "server":{"threads":4,"entryTimeout":3600,"attrTimeout":3600},
             "faults":[{"kind":"kill","at":"0.3s","revalidate":true}],
             "strategies":["handover-eager","handover-lazy"]}
            """.write(toFile: workload, atomically: true, encoding: .utf8)
        let out = dir.file("r.json")
        let r = try Binary.run(["run", workload, "--output", out, "--quiet"], timeout: 180)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("handover-lazy: flat in N"), r.stdout)
        let doc = try ResultFile.read(out)
        XCTAssertEqual(doc.runs.count, 4)
        XCTAssertEqual(Set(doc.runs.compactMap(\.primedFiles)), [100, 400])
        for run in doc.runs {
            let f = try XCTUnwrap(run.faults?.first)
            XCTAssertNotNil(f.revalidationSweep)
            let requests = (f.revalidationSweepRequests ?? [:])["LOOKUP", default: 0]
            if run.strategy == "handover-eager" {
                XCTAssertGreaterThanOrEqual(requests, UInt64(run.primedFiles!), "every cached inode looked up again")
                XCTAssertGreaterThanOrEqual(f.revalidation?.notifications ?? 0, UInt64(run.primedFiles!))
            } else {
                XCTAssertEqual(requests, 0, "lazy: cached inodes stay usable without a request")
                // No client request reaches the new server (every stat is
                // answered from the kernel's caches): the harness asks it
                // itself soon after the restart, so the outage is the
                // server's, not the time left until the run ends (0.5 s).
                let outage = try XCTUnwrap(f.outageToServerReply?.value)
                XCTAssertLessThan(outage, 250e6, "outage of a cached load: \(outage) ns")
                XCTAssertLessThan(try XCTUnwrap(f.waitAfterFault?.value), 250e6)
            }
        }
        let fits = try XCTUnwrap(doc.fits)
        let eager = try XCTUnwrap(fits.first { $0.strategy == "handover-eager" && $0.metric == "revalidationRequests" })
        XCTAssertGreaterThan(eager.slope, 0.9)
        let lazy = try XCTUnwrap(fits.first { $0.strategy == "handover-lazy" && $0.metric == "revalidationRequests" })
        XCTAssertEqual(lazy.slope, 0, accuracy: 0.01)
        // Kernel memory per cached inode: each primed file is a FUSE inode
        // and a dentry in the kernel's slabs (from /proc/slabinfo). SLUB
        // counts a CPU's whole slab as in use, so a few hundred files move
        // the counts by whole slabs; the 1M sweep gives the figure (README).
        for run in doc.runs {
            let slab = try XCTUnwrap(run.primedSlabBytes, "the priming records the kernel's slab growth")
            XCTAssertNotNil(slab["fuse_inode"], "\(slab)")
            XCTAssertNotNil(slab["dentry"], "\(slab)")
            if run.primedFiles == 400 {
                XCTAssertGreaterThan((slab["fuse_inode"] ?? 0) + (slab["dentry"] ?? 0), 0, "\(slab)")
            }
        }
        XCTAssertNotNil(fits.first { $0.strategy == "handover-lazy" && $0.metric == "kernelSlabBytes" })
        // The second strategy at each point took the first one's fileset (a
        // stat load never changes it) instead of building it again.
        XCTAssertEqual(doc.runs.filter { $0.filesetReused == true }.count, 2)
    }
}
