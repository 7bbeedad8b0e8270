import Core
import Dynamics
import Foundation
import MicroscopyIO
import Pipeline
import Tracking
import XCTest

/// The report's own numbers (against analytic answers) and its movie viewer (all frames, or a
/// stride that keeps a long movie's page within its budget).
final class ReportTests: XCTestCase {
    /// At lag 1 every pair is independent, so MSD/√N must be the spread of the MSD over
    /// repeated experiments: 400 experiments of 20 random walks of 30 steps (D = 0.3 px²/frame).
    func testMSDStandardErrorIsTheSpreadOverRepeatedExperiments() {
        var rng = SeededGenerator(seed: 7)
        let sd = (2 * 0.3).squareRoot()
        var msds: [Double] = [], errors: [Double] = []
        for _ in 0..<400 {
            let tracks = (0..<20).map { _ -> DiffusionTrack in
                var x = [0.0], y = [0.0]
                for _ in 0..<30 { x.append(x.last! + sd * rng.normal()); y.append(y.last! + sd * rng.normal()) }
                return DiffusionTrack(frames: Array(0...30), x: x, y: y)
            }
            let lag1 = ReportStatistics.msdWithErrors(Diffusion.msd(tracks, maxLag: 5))[0]
            XCTAssertEqual(lag1.lag, 1)
            msds.append(lag1.msd); errors.append(lag1.standardError)
        }
        let mean = msds.reduce(0, +) / Double(msds.count)
        let spread = (msds.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(msds.count - 1)).squareRoot()
        XCTAssertEqual(mean, 4 * 0.3, accuracy: 0.01)
        XCTAssertEqual(errors.reduce(0, +) / Double(errors.count), spread, accuracy: 0.1 * spread)
    }

    func testMSDLagsWithFewIndependentDisplacementsAreLeftOut() {
        // Six tracks of 4 frames: lag 1 has 18 independent displacements, lags 2 and 3 six each.
        let tracks = (0..<6).map { k in DiffusionTrack(frames: [0, 1, 2, 3], x: [0, 1, 1, 2].map { $0 * Double(k + 1) }, y: [0, 0, 1, 1]) }
        let all = Diffusion.msd(tracks, maxLag: 3)
        XCTAssertEqual(all.map { $0.independent }, [18, 6, 6])
        let kept = ReportStatistics.msdWithErrors(all)
        XCTAssertEqual(kept.map { $0.lag }, [1])
        XCTAssertEqual(kept[0].standardError, all[0].msd / 18.0.squareRoot(), accuracy: 1e-12)
    }

    func testStepsAndDwellTimesOfAHandMadeTrack() {
        // Class 0 for frames 0–2, class 1 for 3–4 (a gap at 5), class 0 from 6 to the end (censored).
        let t = DiffusionTrack(frames: [0, 1, 2, 3, 4, 6, 7], x: [0, 3, 3, 3, 3, 5, 5], y: [0, 4, 4, 2, 2, 2, 3], classes: [0, 0, 0, 1, 1, 0, 0])
        let steps = ReportStatistics.steps([t])
        XCTAssertEqual(steps.map { $0.length }, [5, 0, 2, 0, 1])   // the 4 → 6 gap is not a one-frame step
        XCTAssertEqual(steps[2].angle, -Double.pi / 2, accuracy: 1e-12)
        XCTAssertEqual(steps.map { $0.state }, [0, 0, 0, 1, 0])
        XCTAssertEqual(ReportStatistics.dwellTimes([t]), [0: [3], 1: [3]])
    }

    func testHistogramClampsIntoTheEndBins() {
        XCTAssertEqual(ReportStatistics.histogram([-1, 0, 0.49, 0.5, 0.99, 1, 7, .nan], low: 0, high: 1, bins: 2), [3, 4])
    }

    func testFFTMatchesTheDirectTransformAndFindsACosine() {
        var rng = SeededGenerator(seed: 3)
        let n = 16
        let signal = (0..<n).map { _ in rng.normal() }
        var re = signal, im = [Double](repeating: 0, count: n)
        ReportStatistics.fft(&re, &im)
        for k in 0..<n {
            let dr = (0..<n).map { signal[$0] * cos(-2 * .pi * Double(k * $0) / Double(n)) }.reduce(0, +)
            let di = (0..<n).map { signal[$0] * sin(-2 * .pi * Double(k * $0) / Double(n)) }.reduce(0, +)
            XCTAssertEqual(re[k], dr, accuracy: 1e-9); XCTAssertEqual(im[k], di, accuracy: 1e-9)
        }
        // cos(2π·(5x + 3y)/64): the power peaks at (±5, ±3) from the centre (32, 32).
        let size = 64
        let pixels = (0..<(size * size)).map { i in Float(cos(2 * .pi * Double(5 * (i % size) + 3 * (i / size)) / Double(size))) }
        let power = ReportStatistics.logPowerSpectrum(pixels, width: size, height: size, size: size)
        let top = power.indices.sorted { power[$0] > power[$1] }.prefix(2).map { ($0 % size - 32, $0 / size - 32) }
        XCTAssertEqual(Set(top.map { "\($0.0),\($0.1)" }), ["5,3", "-5,-3"])
    }

    func testBondAnglesOfARotatedHexagonalLatticeGiveItsRotation() {
        let rotation = 7 * Double.pi / 180
        var points: [(x: Double, y: Double)] = []
        for i in -8...8 { for j in -8...8 {
            let x = 3.0 * (Double(i) + 0.5 * Double(j)), y = 3.0 * 3.0.squareRoot() / 2 * Double(j)
            points.append((x * cos(rotation) - y * sin(rotation) + 0.01 * Double(i), x * sin(rotation) + y * cos(rotation)))
        } }
        let angles = ReportStatistics.bondAngles(points)
        let sixfold = atan2(angles.map { sin(6 * $0) }.reduce(0, +), angles.map { cos(6 * $0) }.reduce(0, +)) / 6
        XCTAssertEqual(sixfold * 180 / .pi, 7, accuracy: 0.5)
    }

    func testScaleBarIsARoundLengthOfAboutAFifthOfTheFrame() {
        let bar = FrameViewer.ScaleBar(widthPixels: 256, pixelSize: 0.2)   // 51.2 Å wide
        XCTAssertEqual(bar.label, "1 nm"); XCTAssertEqual(bar.pixels, 50, accuracy: 1e-9)
        let small = FrameViewer.ScaleBar(widthPixels: 100, pixelSize: 0.04)   // 4 Å wide
        XCTAssertEqual(small.label, "0.5 Å"); XCTAssertEqual(small.pixels, 12.5, accuracy: 1e-9)
    }

    /// A 1000-frame movie: the viewer shows every k-th frame so the page stays near its budget,
    /// the slider has as many steps as frames shown, and nothing is fetched from outside.
    func testLongMovieViewerKeepsToItsBudget() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("report-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var rng = SeededGenerator(seed: 1)
        let frames = try (0..<1000).map { _ in try GrayImage(width: 64, height: 48, pixels: (0..<(64 * 48)).map { _ in Float(rng.normal()) }) }
        let url = dir.appendingPathComponent("long.npy")
        try NPYFile.write(frames: frames, to: url)
        let movie = try Movie.open(url)
        let atoms = (0..<1000).map { f in (0..<20).map { FrameAtom(frame: f, x: Double($0 * 3), y: 10, classIndex: $0 % 2, score: 0.9, border: false) } }
        let budget = 1_000_000
        let image = ReportImage()
        let selection = try FrameViewer.Selection(movie: movie, frames: 0..<1000, atomsPerFrame: 20, budgetBytes: budget, image: image)
        let viewer = try FrameViewer.make(movie: movie, selection: selection, atoms: { atoms[$0] }, defects: [(frame: 4, x: 5, y: 6, c: 1)],
                                          tracks: [], image: image)
        XCTAssertGreaterThan(viewer.stride, 1)
        XCTAssertEqual(viewer.frames.count, (1000 + viewer.stride - 1) / viewer.stride)
        XCTAssertEqual(viewer.frames.map(\.number), Array(stride(from: 0, to: 1000, by: viewer.stride)))
        let html = viewer.html
        XCTAssertLessThan(html.utf8.count, budget * 13 / 10)
        XCTAssertGreaterThan(html.utf8.count, budget / 2)
        XCTAssertTrue(html.contains("id=\"fv-slider\" type=\"range\" min=\"0\" max=\"\(viewer.frames.count - 1)\""))
        XCTAssertEqual(html.components(separatedBy: "data:image/png;base64,").count - 1, viewer.frames.count + 1)   // + the first frame's <image>
        try assertSelfContained(html)

        // A short movie is shown whole.
        let whole = try FrameViewer.Selection(movie: movie, frames: 10..<60, atomsPerFrame: 20, budgetBytes: budget, image: image)
        let all = try FrameViewer.make(movie: movie, selection: whole, atoms: { atoms[$0] }, defects: [], tracks: [], image: image)
        XCTAssertEqual(all.stride, 1)
        XCTAssertEqual(all.frames.map(\.number), Array(10..<60))
        XCTAssertTrue(all.html.contains("data-frames=\"50\""))
    }
}

/// No resource is fetched from outside the page (the SVG namespace is a name, not a fetch).
func assertSelfContained(_ html: String, file: StaticString = #filePath, line: UInt = #line) throws {
    for pattern in ["src=\"http", "href=\"http", "url(http", "src='http", "href='http", "@import", "<link", "fetch(", "XMLHttpRequest"] {
        XCTAssertFalse(html.contains(pattern), "report fetches an outside resource: \(pattern)", file: file, line: line)
    }
}
