// The seeded generator and the weighted mix.
import LoadGen
import XCTest

final class RandomAndMixTests: XCTestCase {
    func testGeneratorIsRepeatableAndStreamsDiffer() {
        var a = SplitMix(seed: 7, stream: 0)
        var b = SplitMix(seed: 7, stream: 0)
        var c = SplitMix(seed: 7, stream: 1)
        let sa = (0..<100).map { _ in a.next() }
        XCTAssertEqual(sa, (0..<100).map { _ in b.next() })
        XCTAssertNotEqual(sa, (0..<100).map { _ in c.next() })
        var r = SplitMix(seed: 1, stream: 0)
        XCTAssertTrue((0..<10_000).allSatisfy { _ in (0..<7).contains(r.below(7)) })
    }

    func testMixFollowsWeights() {
        let mix = OpMix([OpSpec(op: .stat, weight: 6), OpSpec(op: .read, weight: 3), OpSpec(op: .open, weight: 1)])
        var r = SplitMix(seed: 3, stream: 0)
        var counts = [0, 0, 0]
        let n = 100_000
        for _ in 0..<n { counts[mix.pick(Double(r.next() >> 11) * 0x1p-53)] += 1 }
        XCTAssertEqual(Double(counts[0]) / Double(n), 0.6, accuracy: 0.01)
        XCTAssertEqual(Double(counts[1]) / Double(n), 0.3, accuracy: 0.01)
        XCTAssertEqual(Double(counts[2]) / Double(n), 0.1, accuracy: 0.01)
        XCTAssertEqual(mix.pick(0), 0)
        XCTAssertEqual(mix.pick(0.999999), 2)
    }
}
