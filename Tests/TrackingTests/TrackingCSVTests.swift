import XCTest
import Tracking

final class TrackingCSVTests: XCTestCase {

    func testParseDetectionsAnyColumnOrder() throws {
        let text = "score,y,frame,x,class\n0.9,2.5,0,1.5,3\n0.8,2.0,1,1.0,4\n\n"
        let d = try TrackingCSV.parseDetections(text)
        XCTAssertEqual(d, [Detection(frame: 0, x: 1.5, y: 2.5, classLabel: 3, score: 0.9),
                           Detection(frame: 1, x: 1.0, y: 2.0, classLabel: 4, score: 0.8)])
        XCTAssertEqual(try TrackingCSV.parseDetections("frame,x,y\n2,1,1\n").first?.classLabel, 0)
    }

    func testParseErrorsNameTheLine() {
        XCTAssertThrowsError(try TrackingCSV.parseDetections("frame,x\n0,1\n")) {
            XCTAssertEqual($0 as? TrackingError, .csv(line: 1, reason: "header must name frame, x and y columns, got frame,x"))
        }
        XCTAssertThrowsError(try TrackingCSV.parseDetections("frame,x,y\n0,1,2\n1,abc,2\n")) {
            guard case .csv(let line, _)? = $0 as? TrackingError else { return XCTFail("\($0)") }
            XCTAssertEqual(line, 3)
        }
        XCTAssertThrowsError(try TrackingCSV.parseDetections("frame,x,y\n0.5,1,2\n"))
    }

    func testTrajectoriesCSVFiltersAndCalibrates() throws {
        var d = (0..<4).map { Detection(frame: $0, x: Double($0), y: 1, classLabel: $0 % 2, score: 0.5) }
        d.append(Detection(frame: 0, x: 50, y: 50))
        let r = try Tracker.track(d, options: TrackingOptions(maxDistance: 2))
        let lines = TrackingCSV.trajectories(r, minLength: 2, pixelSize: 0.5).split(separator: "\n")
        XCTAssertEqual(lines.first, "track,frame,x,y,class,score,x_A,y_A")
        XCTAssertEqual(lines.count, 5, "the single-point track is filtered out")
        XCTAssertEqual(lines[2], "0,1,1.0000,1.0000,1,0.5000,0.5000,0.5000")
        XCTAssertEqual(TrackingCSV.trajectories(r).split(separator: "\n").count, 6)
    }
}
