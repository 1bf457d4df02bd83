// Medians and the Mann-Whitney U test against known values.
import ResultModel
import XCTest

final class StatisticsTests: XCTestCase {
    func testMedian() {
        XCTAssertEqual(Statistics.median([3, 1, 2]), 2)
        XCTAssertEqual(Statistics.median([4, 1, 3, 2]), 2.5)
        XCTAssertNil(Statistics.median([]))
    }

    func testCompletelySeparatedSamplesOfFive() {
        // U = 0 for 5 vs 5: exact two-sided p = 2 / C(10, 5) = 2/252.
        let r = Statistics.mannWhitney([1, 2, 3, 4, 5], [6, 7, 8, 9, 10])
        XCTAssertEqual(r.u, 0)
        XCTAssertEqual(r.p ?? -1, 2.0 / 252, accuracy: 1e-12)
    }

    func testKnownSmallCase() {
        // 3 vs 3 with U = 1: P(U <= 1) = 2/20, two-sided 0.2.
        let r = Statistics.mannWhitney([1, 2, 4], [3, 5, 6])
        XCTAssertEqual(r.u, 1)
        XCTAssertEqual(r.p ?? -1, 0.2, accuracy: 1e-12)
    }

    func testOverlappingSamplesAreNotSignificant() {
        let r = Statistics.mannWhitney([1, 3, 5, 7, 9], [2, 4, 6, 8, 10])
        XCTAssertGreaterThan(r.p ?? -1, 0.5)
    }

    func testTiesUseTheNormalApproximation() {
        let same = Statistics.mannWhitney([1, 1, 1, 1], [1, 1, 1, 1])
        XCTAssertNil(same.p, "all samples equal: no test could run")
        let apart = Statistics.mannWhitney([1, 1, 2, 2, 3, 3, 4, 4], [10, 10, 11, 11, 12, 12, 13, 13])
        XCTAssertLessThan(apart.p ?? 1, 0.01)
    }
}
