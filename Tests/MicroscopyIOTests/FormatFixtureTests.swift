import Foundation
import MicroscopyIO
import XCTest

/// The instrument files in ../shared/fixtures/formats (Velox, Berkeley EMD, Nion, TIA, MRC,
/// OME/ImageJ TIFF, DM; third-party, never copied into the package) against the values that
/// independent Python readers (h5py, ncempy, mrcfile, tifffile, rsciio, nionswift) wrote into
/// its reference_values.json: shape, dtype, every frame sum, probe pixels, pixel size and frame
/// time. The JSON is parsed here, so a reader is checked against numbers it did not produce.
final class FormatFixtureTests: XCTestCase {
    /// One image the reference describes and where it sits.
    struct Expectation {
        var file: URL
        var signal: String?
        var stats: [String: Any]
        /// Å per pixel (x, y), nil when the file states no length calibration.
        var pixelSize: (x: Double, y: Double)?
        var frameTime: Double?
    }

    static func reference() throws -> [String: [String: Any]] {
        let url = formatFixtures.appendingPathComponent("reference_values.json")
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw XCTSkip("format fixtures absent: \(formatFixtures.path) (third-party files, not part of the package)")
        }
        let root = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        return try XCTUnwrap(root["files"] as? [String: [String: Any]])
    }

    func testEveryFixtureMatchesTheIndependentReaders() throws {
        let files = try Self.reference()
        let scratch = try makeTempDir(self)
        var checked = 0
        for (name, entry) in files.sorted(by: { $0.key < $1.key }) {
            let refs = (entry["reference"] as? [[String: Any]]) ?? [(entry["reference"] as? [String: Any]) ?? [:]]
            var url = formatFixtures.appendingPathComponent(name)
            if name.hasSuffix(".zip") { url = try unzipEMD(url, into: scratch) }
            if refs.first?["stats"] == nil {
                // The 4-D Berkeley EMD: not an image, refused in one line.
                assertIOError(try Movie.open(url), contains: "not an image")
                continue
            }
            for e in try expectations(name: name, url: url, refs: refs) {
                try check(e, label: name + (e.signal.map { " [\($0)]" } ?? ""))
                checked += 1
            }
        }
        XCTAssertEqual(checked, 31, "every image of every fixture (the 4-D Berkeley EMD is refused)")
    }

    private func check(_ e: Expectation, label: String) throws {
        let m = try Movie.open(e.file, signal: e.signal)
        let shape = try XCTUnwrap(e.stats["shape_NHW"] as? [Int])
        XCTAssertEqual([m.frameCount, m.height, m.width], shape, label)
        XCTAssertEqual(m.sampleType.rawValue, e.stats["dtype"] as? String, label)
        var frames: [[Float]] = []
        var total = 0.0
        try m.forEachFrame { _, f in
            frames.append(f.pixels)
            total += f.pixels.reduce(0.0) { $0 + Double($1) }
        }
        let expectedTotal = try XCTUnwrap((e.stats["total_sum"] as? NSNumber)?.doubleValue)
        XCTAssertEqual(total, expectedTotal, accuracy: 1e-6 * max(1, abs(expectedTotal)), "\(label) total")
        for f in e.stats["frames"] as? [[String: Any]] ?? [] {
            let k = f["frame"] as! Int, sum = (f["sum"] as! NSNumber).doubleValue
            let mine = frames[k].reduce(0.0) { $0 + Double($1) }
            XCTAssertEqual(mine, sum, accuracy: 1e-6 * max(1, abs(sum)), "\(label) frame \(k) sum")
        }
        for p in e.stats["pixels"] as? [[String: Any]] ?? [] {
            let (k, r, c) = (p["frame"] as! Int, p["row"] as! Int, p["col"] as! Int)
            let v = (p["value"] as! NSNumber).floatValue
            XCTAssertEqual(frames[k][r * m.width + c], v, "\(label) pixel (\(k),\(r),\(c))")
        }
        if let (x, y) = e.pixelSize {
            // 1e-6: some headers hold the size as float32 (MRC cell, TIFF resolution through libtiff).
            XCTAssertEqual(m.calibration?.x.scaleInAngstrom ?? .nan, x, accuracy: 1e-6 * x, "\(label) pixel x")
            XCTAssertEqual(m.calibration?.y.scaleInAngstrom ?? .nan, y, accuracy: 1e-6 * y, "\(label) pixel y")
        } else {
            XCTAssertNil(m.pixelSizeA, "\(label): no length calibration stated")
        }
        if let t = e.frameTime {
            XCTAssertEqual(m.frameTime?.seconds ?? .nan, t, accuracy: 1e-12 * t, "\(label) frame time")
        } else {
            XCTAssertNil(m.frameTime, "\(label): no frame time stated")
        }
        // `atomtrack convert` to TIFF and NPY keeps every pixel (source dtype) and the pixel size.
        let dir = try makeTempDir(self)
        for ext in ["tif", "npy"] {
            let out = dir.appendingPathComponent("converted.\(ext)")
            try MovieConverter.convert(m, to: out)
            let back = try Movie.open(out)
            XCTAssertEqual([back.frameCount, back.height, back.width], shape, "\(label) → \(ext)")
            XCTAssertEqual(back.sampleType, m.sampleType, "\(label) → \(ext)")
            for k in 0..<back.frameCount { XCTAssertEqual(try back.frame(k).pixels, frames[k], "\(label) → \(ext) frame \(k)") }
            if ext == "tif", let a = m.pixelSizeA { XCTAssertEqual(back.pixelSizeA ?? .nan, a, accuracy: 1e-6 * a, "\(label) → tif pixel size") }
        }
    }

    /// What the reference states, per format (its keys differ by the reader that made them).
    private func expectations(name: String, url: URL, refs: [[String: Any]]) throws -> [Expectation] {
        let format = name.split(separator: "/")[0]
        return try refs.map { r in
            let stats = try XCTUnwrap(r["stats"] as? [String: Any], name)
            var e = Expectation(file: url, signal: nil, stats: stats, pixelSize: nil, frameTime: nil)
            switch format {
            case "velox_emd":
                let detectors = refs.map { $0["detector"] as? String ?? "" }
                let detector = r["detector"] as? String ?? ""
                let uuid = ((r["dataset"] as? String ?? "").split(separator: "/"))[2]
                e.signal = detectors.filter { $0 == detector }.count > 1 ? "\(detector):\(uuid.prefix(8))" : detector
                if let p = r["pixel_size"] as? [String: Any] {
                    e.pixelSize = (length(p["x"], p["unit_x"]), length(p["y"], p["unit_y"]))
                }
                let scan = r["scan"] as? [String: Any]
                e.frameTime = (scan?["FrameTime"] as? String).flatMap(Double.init) ?? (r["detector_exposure_time_s"] as? String).flatMap(Double.init)
            case "berkeley_emd":
                let dims = r["dims"] as? [[String: Any]] ?? []
                let unit = { (d: [String: Any]) in (d["units"] as? String ?? "").filter { !"[]_".contains($0) } }
                if dims.count == 3, let x = dims.last, let y = dims.dropLast().last, !unit(x).isEmpty {
                    e.pixelSize = (length(x["step"], unit(x)), length(y["step"], unit(y)))
                }
            case "tia_ser":
                let cal = r["pixel_calibration_m"] as? [[String: Any]] ?? []
                let delta = (cal[0]["delta"] as! NSNumber).doubleValue
                if delta < 1 { e.pixelSize = (delta * 1e10, (cal[1]["delta"] as! NSNumber).doubleValue * 1e10) }  // else 1/m
                let emi = r["emi"] as? [String: Any]
                e.frameTime = ((emi?["FrameTime"] ?? emi?["DwellTimePath"]) as? NSNumber)?.doubleValue
            case "nion":
                let cal = r["dimensional_calibrations"] as? [[String: Any]] ?? []
                let (x, y) = (cal[cal.count - 1], cal[cal.count - 2])
                if y["units"] as? String == x["units"] as? String, (x["units"] as? String ?? "") != "" {
                    e.pixelSize = (length(x["scale"], x["units"]), length(y["scale"], y["units"]))
                }
                if cal.count == 3, cal[0]["units"] as? String == "s" { e.frameTime = (cal[0]["scale"] as? NSNumber)?.doubleValue }
                else { e.frameTime = ((r["metadata.hardware_source"] as? [String: Any])?["exposure"] as? NSNumber)?.doubleValue }
            case "mrc":
                let voxel = (r["voxel_size_A"] as? [NSNumber] ?? []).map(\.doubleValue)
                let de = r["de_info_txt"] as? [String: String]
                if voxel.count >= 2, voxel[0] > 0 { e.pixelSize = (voxel[0], voxel[1]) }
                else if let de, let x = de["Specimen Pixel Size X (nanometers)"].flatMap(Double.init),
                        let y = de["Specimen Pixel Size Y (nanometers)"].flatMap(Double.init) { e.pixelSize = (x * 10, y * 10) }
                e.frameTime = ((r["fei_ext_header_first_record"] as? [String: Any])?["Frame time"] as? NSNumber)?.doubleValue
                    ?? de?["Frame Time (nanoseconds)"].flatMap(Double.init).map { $0 * 1e-9 }
            case "tiff":
                if let ome = r["ome_pixels"] as? [String: String] {
                    e.pixelSize = (length(ome["PhysicalSizeX"].flatMap(Double.init), ome["PhysicalSizeXUnit"]),
                                   length(ome["PhysicalSizeY"].flatMap(Double.init), ome["PhysicalSizeYUnit"]))
                    e.frameTime = ome["TimeIncrement"].flatMap(Double.init)
                } else if let p = r["pixel_size_from_resolution"] as? [String: Any] {
                    e.pixelSize = (length(p["x"], p["unit"]), length(p["y"], p["unit"]))
                    e.frameTime = ((r["imagej_metadata"] as? [String: Any])?["finterval"] as? NSNumber)?.doubleValue
                }
            case "dm":
                let axes = r["axes"] as? [[String: Any]] ?? []
                let (x, y) = (axes[axes.count - 1], axes[axes.count - 2])
                if let ux = x["units"] as? String, let uy = y["units"] as? String, ["µm", "nm", "pm", "um"].contains(ux), ux == uy {
                    e.pixelSize = (length(x["scale"], ux), length(y["scale"], uy))
                } else { e.pixelSize = nil }
            default: XCTFail("unexpected fixture folder \(format)")
            }
            return e
        }
    }

    /// A length in the reference's unit as Å (the conversion written out here, not the reader's).
    private func length(_ value: Any?, _ unit: Any?) -> Double {
        let v = (value as? NSNumber)?.doubleValue ?? (value as? Double) ?? .nan
        let perUnit: [String: Double] = ["m": 1e10, "nm": 10, "pm": 0.01, "µm": 1e4, "um": 1e4, "micron": 1e4, "A": 1, "Å": 1]
        return v * (perUnit[unit as? String ?? ""] ?? .nan)
    }

    /// The Velox file inside the upstream zip (deflated, so through the system's unzip).
    private func unzipEMD(_ zip: URL, into dir: URL) throws -> URL {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/unzip") else {
            throw XCTSkip("/usr/bin/unzip absent (scripts/setup.sh installs it): cannot open \(zip.lastPathComponent)")
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/unzip")
        p.arguments = ["-o", "-q", zip.path, "-d", dir.path]
        try p.run(); p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        let emd = try XCTUnwrap(FileManager.default.contentsOfDirectory(atPath: dir.path).first { $0.hasSuffix(".emd") })
        return dir.appendingPathComponent(emd)
    }
}
