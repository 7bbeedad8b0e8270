import Foundation
import MicroscopyIO
import XCTest

/// A fresh temp directory removed when the test ends.
func reliabilityTempDir(_ test: XCTestCase) throws -> URL {
    let dir = FileManager.default.temporaryDirectory
        .appendingPathComponent("atomtrack-rel-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
    return dir
}

/// Fuzz findings and hand-made bad files committed with the tests.
let reliabilityFixtures = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!

/// The repository root (for the shipped Models/).
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()

/// Third-party DigitalMicrograph files (openNCEM), present on the development machine only.
let sharedDMFixtures = URL(fileURLWithPath: ProcessInfo.processInfo.environment["ATOMTRACK_DM_FIXTURES"]
                           ?? "/work/shared/fixtures/dm")

/// Opens `url` and decodes every frame. Returns the error, or nil when the file read cleanly.
/// Fails the test when the error is not a `MicroscopyIOError` or does not name the file.
@discardableResult
func readAllFrames(_ url: URL, file: StaticString = #filePath, line: UInt = #line) -> Error? {
    do {
        let m = try Movie.open(url)
        for k in 0..<m.frameCount {
            let f = try m.frame(k)
            XCTAssertEqual(f.pixels.count, f.width * f.height, file: file, line: line)
        }
        return nil
    } catch let e as MicroscopyIOError {
        if case .invalidArgument = e {} else {
            XCTAssertTrue("\(e)".contains(url.lastPathComponent), "error should name the file: \(e)", file: file, line: line)
        }
        XCTAssertFalse("\(e)".contains("\n"), "one line: \(e)", file: file, line: line)
        return e
    } catch {
        XCTFail("\(url.lastPathComponent): untyped error \(type(of: error)): \(error)", file: file, line: line)
        return error
    }
}


/// Peak resident memory of this process in bytes (Linux `ru_maxrss` is in KiB).
func peakResidentBytes() -> Int {
    var u = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &u)
    return Int(u.ru_maxrss) * 1024
}
