import Foundation
import MicroscopyIO
import XCTest

/// A fresh temporary directory, removed by the caller's `addTeardownBlock`.
func makeTempDir(_ test: XCTestCase) throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mio-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
    return dir
}

/// The committed reference files (written by numpy, tifffile, Pillow; scripts/io_fixtures.py).
let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

/// The third-party DigitalMicrograph files, outside the package (never copied in).
let dmFixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("shared/fixtures/dm")

/// The formula scripts/io_fixtures.py uses: value(k, y, x) for a sample type.
func fixtureValue(_ k: Int, _ y: Int, _ x: Int, _ type: SampleType) -> Float {
    let base = Float(((k * 35 + y * 7 + x) * 3) % 200)
    if type.isFloat { return base * 0.25 - 10 }
    return type.isSignedInteger ? base - 100 : base
}

/// Frame `k` of a `w × h` fixture pattern.
func fixtureFrame(_ k: Int, width w: Int, height h: Int, _ type: SampleType) -> [Float] {
    (0..<(w * h)).map { fixtureValue(k, $0 / w, $0 % w, type) }
}

/// Pixels exactly representable in `type` that exercise its extremes.
func extremePattern(_ type: SampleType, count: Int, seed: UInt64) -> [Float] {
    var g = seed
    func next() -> UInt64 { g &+= 0x9E37_79B9_7F4A_7C15; var z = g; z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9; z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB; return z ^ (z >> 31) }
    let lo: Float, hi: Float
    switch type {
    case .uint8: (lo, hi) = (0, 255)
    case .int8: (lo, hi) = (-128, 127)
    case .uint16: (lo, hi) = (0, 65535)
    case .int16: (lo, hi) = (-32768, 32767)
    case .uint32: (lo, hi) = (0, 16_777_216)  // integers beyond 2^24 do not survive Float32
    case .int32: (lo, hi) = (-16_777_216, 16_777_216)
    case .float32, .float64: (lo, hi) = (-3e4, 3e4)
    }
    return (0..<count).map { i in
        if i == 0 { return lo }
        if i == 1 { return hi }
        let u = Float(next() >> 40) / Float(1 << 24)
        let v = lo + u * (hi - lo)
        return type.isFloat ? v : v.rounded()
    }
}

/// Asserts that `body` throws a `MicroscopyIOError` whose message contains `fragment`.
func assertIOError<T>(_ body: @autoclosure () throws -> T, contains fragment: String,
                      file: StaticString = #filePath, line: UInt = #line) {
    do {
        _ = try body()
        XCTFail("expected an error containing '\(fragment)'", file: file, line: line)
    } catch let e as MicroscopyIOError {
        XCTAssertTrue(e.description.contains(fragment), "'\(e.description)' lacks '\(fragment)'", file: file, line: line)
        XCTAssertFalse(e.description.contains("\n"), "error is not one line", file: file, line: line)
    } catch {
        XCTFail("unexpected error type \(error)", file: file, line: line)
    }
}

/// Files in `dir` (including hidden temp files).
func listing(_ dir: URL) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).sorted()
}

/// The instrument files (Velox, TIA, Nion, NCEM, MRC, OME/ImageJ TIFF, DM) with reference values
/// from independent readers, outside the package (never copied in).
let formatFixtures = dmFixtures.deletingLastPathComponent().appendingPathComponent("formats")

/// 4 × 3 float64 pixels (row-major) that Float32 cannot hold: 1e300, a 53-bit mantissa,
/// subnormals (#16 item 16).
let float64Only: [Double] = [1e300, -1e300, 1.0000000000000002, .leastNonzeroMagnitude, 0, -2.5, 123456789.123456789, 1e-300,
                             0.1, .pi, -Double.leastNormalMagnitude / 3, 3.0000000000000004]

/// Converts `input` with `--dtype float64` semantics to NPY and TIFF and checks every value
/// survives bit for bit. The NPY's bytes are decoded here, independently of AtomTrack's reader.
func assertConvertsFloat64Exactly(_ input: URL, expected: [Double], dir: URL, file: StaticString = #filePath, line: UInt = #line) throws {
    let movie = try Movie.open(input)
    let npy = dir.appendingPathComponent(input.lastPathComponent + ".npy")
    try MovieConverter.convert(movie, to: npy, options: .init(sampleType: .float64))
    let bytes = try Data(contentsOf: npy)
    let headerLength = Int(bytes[8]) + Int(bytes[9]) << 8
    let stored = stride(from: 10 + headerLength, to: bytes.count, by: 8).map { i in
        Double(bitPattern: bytes[i..<(i + 8)].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
    }
    XCTAssertEqual(stored.map(\.bitPattern), expected.map(\.bitPattern), "NPY", file: file, line: line)
    let tif = dir.appendingPathComponent(input.lastPathComponent + ".tif")
    try MovieConverter.convert(movie, to: tif, options: .init(sampleType: .float64))
    var read: [Double] = []
    try Movie.open(tif).readFrame(0, into: &read)
    XCTAssertEqual(read.map(\.bitPattern), expected.map(\.bitPattern), "TIFF", file: file, line: line)
}
