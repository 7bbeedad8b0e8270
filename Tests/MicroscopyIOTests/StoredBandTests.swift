import Foundation
@testable import MicroscopyIO
import XCTest

/// `Movie.forEachBand` for readers whose frames lie contiguously in a mapped file (C-order NPY,
/// MRC, DM; #16 item 2): bands of ≤ 1 MiB of Float32 rows that concatenate to the frame.
final class StoredBandTests: XCTestCase {
    private func assertBandsAreTheFrame(_ url: URL, file: StaticString = #filePath, line: UInt = #line) throws {
        let movie = try Movie.open(url)
        for k in [0, movie.frameCount - 1] {
            var bands: [[Float]] = []
            try movie.forEachBand(ofFrame: k) { bands.append(Array($0)) }
            XCTAssertEqual(bands.flatMap { $0 }, try movie.frame(k).pixels, "\(url.lastPathComponent) frame \(k)", file: file, line: line)
            XCTAssertTrue(bands.dropLast().allSatisfy { $0.count % movie.width == 0 && $0.count * 4 <= 1 << 20 },
                          file: file, line: line)
            XCTAssertEqual(bands.count, (movie.height + max(1, (1 << 18) / movie.width) - 1) / max(1, (1 << 18) / movie.width),
                           file: file, line: line)
        }
    }

    /// A 3-frame uint16 NPY of 300 × 2000 (873 rows per band: 3 bands per frame), both byte orders.
    func testNPYBands() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("stored-bands-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for big in [false, true] {
            let url = dir.appendingPathComponent("m\(big).npy")
            let writer = try NPYStackWriter(url: url, width: 300, height: 2000, sampleType: .uint16, bigEndian: big)
            for f in 0..<3 { try writer.append((0..<600_000).map { Float(($0 * 7 + f * 13) % 65536) }) }
            try writer.finish()
            try assertBandsAreTheFrame(url)
        }
    }

    /// The MRC and DM files of ../shared/fixtures (skipped when absent).
    func testMappedFixtureBands() throws {
        let shared = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../shared/fixtures/formats")
        let files = ["mrc/HAADFscan.mrc", "mrc/20241021_00405_movie.mrc", "dm/dmTest_3D_int16_64,65,66.dm3",
                     "dm/dmTest_3D_int16_64,65,66.dm4"].map { shared.appendingPathComponent($0).standardizedFileURL }
        guard files.allSatisfy({ FileManager.default.fileExists(atPath: $0.path) }) else {
            throw XCTSkip("format fixtures absent: \(shared.standardizedFileURL.path)")
        }
        for url in files { try assertBandsAreTheFrame(url) }
    }
}
