import XCTest
import Pipeline

final class VersionTests: XCTestCase {
    func testVersionIsSemantic() {
        let parts = atomTrackVersion.split(separator: ".")
        XCTAssertEqual(parts.count, 3)
        XCTAssertTrue(parts.allSatisfy { Int($0) != nil })
    }
}
