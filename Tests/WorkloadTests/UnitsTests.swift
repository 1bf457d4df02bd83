// Size and duration parsing of workload files.
import Workload
import XCTest

final class UnitsTests: XCTestCase {
    func testSizes() {
        XCTAssertEqual(Units.bytes("512"), 512)
        XCTAssertEqual(Units.bytes("4k"), 4096)
        XCTAssertEqual(Units.bytes("4KiB"), 4096)
        XCTAssertEqual(Units.bytes("1 MiB"), 1 << 20)
        XCTAssertEqual(Units.bytes("1.5K"), 1536)
        XCTAssertEqual(Units.bytes("2G"), 2 << 30)
        XCTAssertNil(Units.bytes("4 parsecs"))
        XCTAssertNil(Units.bytes("0.3"))
        XCTAssertNil(Units.bytes("-1"))
        XCTAssertNil(Units.bytes(""))
    }

    func testDurations() {
        XCTAssertEqual(Units.seconds("2"), 2)
        XCTAssertEqual(Units.seconds("500ms"), 0.5)
        XCTAssertEqual(Units.seconds("250us"), 0.00025)
        XCTAssertEqual(Units.seconds("1.5m"), 90)
        XCTAssertNil(Units.seconds("soon"))
        XCTAssertNil(Units.seconds("5 h"))
    }
}
