// Least-squares fits through sweep points.
import ResultModel
import XCTest

final class LinearFitTests: XCTestCase {
    func testExactLine() throws {
        let f = try XCTUnwrap(LinearFit.fit([(1000, 3000), (10000, 21000), (100000, 201000)], strategy: "s",
                                            metric: "m", unit: "ns", x: "inodes"))
        XCTAssertEqual(f.slope, 2, accuracy: 1e-9)
        XCTAssertEqual(f.intercept, 1000, accuracy: 1e-6)
        XCTAssertEqual(f.r2, 1, accuracy: 1e-12)
        XCTAssertEqual(f.points, 3)
    }

    func testFlatLineAndDegenerateInput() throws {
        let flat = try XCTUnwrap(LinearFit.fit([(1, 5), (10, 5), (100, 5)], strategy: "s", metric: "m", unit: "ns", x: "n"))
        XCTAssertEqual(flat.slope, 0, accuracy: 1e-12)
        XCTAssertNil(LinearFit.fit([(1, 5)], strategy: "s", metric: "m", unit: "ns", x: "n"))
        XCTAssertNil(LinearFit.fit([(3, 5), (3, 7)], strategy: "s", metric: "m", unit: "ns", x: "n"))
    }
}
