import Foundation
import Simulation
import XCTest

/// Renders the geometry of the independent multislice validation frames (/work/shared/validation, or
/// $ATOMTRACK_VALIDATION_DIR) with AtomTrack's convolution model and compares. Evaluation only: nothing
/// here feeds back into recipes. Skipped where the frames are absent.
final class ValidationComparisonTests: XCTestCase {
    static var directory: URL {
        URL(fileURLWithPath: ProcessInfo.processInfo.environment["ATOMTRACK_VALIDATION_DIR"] ?? "/work/shared/validation")
    }

    struct Comparison {
        var correlation: Double
        var meanRatio: Double  // ours / multislice
        var classPeaks: [String: (ours: Double, theirs: Double)]
    }

    func compare(_ name: String) throws -> Comparison {
        let dir = Self.directory
        guard FileManager.default.fileExists(atPath: dir.appendingPathComponent(name + ".npy").path) else {
            throw XCTSkip("validation frame \(name) not present")
        }
        let meta = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent(name + ".json"))) as! [String: Any]
        let (ref, h, w) = try readNPY(dir.appendingPathComponent(name + ".npy"))
        let pxy = meta["pixel_size_xy_A"] as! [Double]
        var m = Microscope()
        m.voltage = meta["energy_eV"] as! Double
        m.convergenceSemiangle = (meta["semiangle_mrad"] as! NSNumber).doubleValue
        m.defocus = (meta["defocus_A"] as! NSNumber).doubleValue
        m.cs = (meta["Cs_A"] as! NSNumber).doubleValue
        let det = meta["detector_mrad"] as! [Double]
        m.detectorInner = det[0]; m.detectorOuter = det[1]
        // Truth: one row per atom; atoms at the same place form one column.
        let rows = try String(contentsOf: dir.appendingPathComponent(name + "_truth.csv"), encoding: .utf8)
            .split(separator: "\n").dropFirst().map { $0.split(separator: ",") }
        var columns: [Column] = []
        for r in rows {
            let x = Double(r[0])! * pxy[0], y = Double(r[1])! * pxy[0]  // render on a square grid of pxy[0]
            let sym = String(r[2]), z = Int(r[3])!
            if let i = columns.firstIndex(where: { $0.symbol == sym && abs($0.position.x - x) < 0.3 && abs($0.position.y - y) < 0.3 }) {
                columns[i].count += 1
            } else {
                columns.append(Column(position: Vec2(x, y), symbol: sym, z: z, count: 1, site: nil))
            }
        }
        // Periodic cell: copy columns across the edges.
        let W = Double(w) * pxy[0], H = Double(h) * pxy[0]
        var periodic: [Column] = []
        for dy in [-H, 0, H] { for dx in [-W, 0, W] { for c in columns {
            var o = c; o.position += Vec2(dx, dy)
            if o.position.x > -8, o.position.y > -8, o.position.x < W + 8, o.position.y < H + 8 { periodic.append(o) }
        } } }
        let ours = try Renderer(microscope: m, cutoff: 8)
            .render(periodic, geometry: FrameGeometry(width: w, height: h, pixelSize: pxy[0]))
        let n = Double(ref.count)
        let mr = ref.reduce(0.0) { $0 + Double($1) } / n, mo = ours.reduce(0.0) { $0 + Double($1) } / n
        var sab = 0.0, saa = 0.0, sbb = 0.0
        for i in ref.indices {
            let a = Double(ref[i]) - mr, b = Double(ours[i]) - mo
            sab += a * b; saa += a * a; sbb += b * b
        }
        var peaks: [String: (Double, Double, Int)] = [:]
        for c in columns {
            let key = c.count > 1 ? c.symbol + "\(c.count)" : c.symbol
            let x = Int((c.position.x / pxy[0]).rounded()) , y = Int((c.position.y / pxy[0]).rounded())
            guard x >= 1, y >= 1, x < w - 1, y < h - 1 else { continue }
            var (a, b) = (0.0, 0.0)  // 3×3 maximum around the column
            for yy in y - 1...y + 1 { for xx in x - 1...x + 1 {
                a = max(a, Double(ours[yy * w + xx])); b = max(b, Double(ref[yy * w + xx]))
            } }
            let p = peaks[key, default: (0, 0, 0)]
            peaks[key] = (p.0 + a, p.1 + b, p.2 + 1)
        }
        return Comparison(correlation: sab / (saa * sbb).squareRoot(), meanRatio: mo / mr,
                          classPeaks: peaks.mapValues { ($0.0 / Double($0.2), $0.1 / Double($0.2)) })
    }

    func report(_ name: String, _ c: Comparison) {
        var line = "\(name): correlation \(String(format: "%.3f", c.correlation)), mean ours/multislice \(String(format: "%.3f", c.meanRatio))"
        for (k, v) in c.classPeaks.sorted(by: { $0.key < $1.key }) {
            line += "; \(k) peak ours \(String(format: "%.5f", v.ours)) multislice \(String(format: "%.5f", v.theirs))"
        }
        print(line)
    }

    func testGrapheneSiAgainstMultislice() throws {
        let c = try compare("graphene-si-0")
        report("graphene-si-0", c)
        XCTAssertGreaterThan(c.correlation, 0.8)
        XCTAssertEqual(c.meanRatio, 1, accuracy: 0.5)  // same order: the physical scale is right
        if let si = c.classPeaks["Si"], let cc = c.classPeaks["C"] {
            XCTAssertGreaterThan(si.ours / cc.ours, 1.5)  // Si is brighter in both
            XCTAssertGreaterThan(si.theirs / cc.theirs, 1.5)
        }
    }

    func testWS2AgainstMultislice() throws {
        let c = try compare("ws2-0")
        report("ws2-0", c)
        XCTAssertGreaterThan(c.correlation, 0.8)
        XCTAssertEqual(c.meanRatio, 1, accuracy: 0.5)
        if let wp = c.classPeaks["W"], let s2 = c.classPeaks["S2"] {
            XCTAssertGreaterThan(wp.ours / s2.ours, 1.5)
            XCTAssertGreaterThan(wp.theirs / s2.theirs, 1.5)
        }
    }

    /// Minimal little-endian float32 .npy reader (C order) for the comparison only.
    func readNPY(_ url: URL) throws -> ([Float], Int, Int) {
        let d = try Data(contentsOf: url)
        let headerLength = Int(d[8]) | Int(d[9]) << 8
        let header = String(decoding: d[10..<(10 + headerLength)], as: UTF8.self)
        XCTAssert(header.contains("'<f4'"), header)
        let fortran = header.contains("'fortran_order': True")
        let shape = header.split(separator: "(")[1].split(separator: ")")[0].split(separator: ",")
            .map { Int($0.trimmingCharacters(in: .whitespaces))! }
        let body = d.subdata(in: (10 + headerLength)..<d.count)
        let raw = body.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        let (rows, cols) = (shape[0], shape[1])
        guard fortran else { return (raw, rows, cols) }
        var values = raw  // column-major → row-major
        for r in 0..<rows { for c in 0..<cols { values[r * cols + c] = raw[c * rows + r] } }
        return (values, rows, cols)
    }
}
