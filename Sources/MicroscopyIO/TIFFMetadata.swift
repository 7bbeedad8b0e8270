import Foundation

/// Calibration and frame interval that microscopy software writes into a TIFF's
/// ImageDescription: OME-XML (`<Pixels PhysicalSizeX=… PhysicalSizeXUnit=… TimeIncrement=…
/// TimeIncrementUnit=…>`) and ImageJ hyperstacks (`finterval=`, `tunit=`; the pixel size of
/// ImageJ files comes from `unit=` and X/YResolution in TIFF.swift).
enum TIFFMetadata {
    /// The OME `Pixels` element's physical pixel size (unit default µm, as the OME schema says).
    static func omeCalibration(_ description: String) -> FileCalibration? {
        guard let pixels = omePixels(description),
              let x = attribute("PhysicalSizeX", in: pixels).flatMap(Double.init),
              let y = attribute("PhysicalSizeY", in: pixels).flatMap(Double.init) else { return nil }
        return FileCalibration(x: AxisCalibration(scale: x, unit: attribute("PhysicalSizeXUnit", in: pixels) ?? "µm"),
                               y: AxisCalibration(scale: y, unit: attribute("PhysicalSizeYUnit", in: pixels) ?? "µm"))
    }

    /// OME `TimeIncrement` (unit default s) or ImageJ `finterval` (unit `tunit`, default s).
    static func frameTime(_ description: String) -> FileFrameTime? {
        if let pixels = omePixels(description), let t = attribute("TimeIncrement", in: pixels).flatMap(Double.init) {
            let unit = attribute("TimeIncrementUnit", in: pixels) ?? "s"
            return seconds(per: unit).flatMap { FileFrameTime.valid(t * $0, key: "OME TimeIncrement (\(unit))") }
        }
        guard description.hasPrefix("ImageJ=") else { return nil }
        var fields: [String: String] = [:]
        for line in description.split(separator: "\n") {
            let p = line.split(separator: "=", maxSplits: 1).map(String.init)
            if p.count == 2 { fields[p[0]] = p[1] }
        }
        guard let t = fields["finterval"].flatMap(Double.init) else { return nil }
        let unit = fields["tunit"] ?? "s"
        return seconds(per: unit).flatMap { FileFrameTime.valid(t * $0, key: "ImageJ finterval (\(unit))") }
    }

    private static func seconds(per unit: String) -> Double? {
        ["s": 1, "sec": 1, "second": 1, "seconds": 1, "ms": 1e-3, "msec": 1e-3, "µs": 1e-6, "us": 1e-6, "ns": 1e-9, "min": 60][unit]
    }

    /// The opening tag of the first `Pixels` element (any namespace prefix).
    private static func omePixels(_ description: String) -> Substring? {
        guard description.contains("<OME"), let start = description.range(of: "Pixels ", options: [])?.lowerBound,
              let end = description[start...].firstIndex(of: ">") else { return nil }
        return description[start..<end]
    }

    /// The value of `name="…"` in a tag (attributes are matched as whole names).
    private static func attribute(_ name: String, in tag: Substring) -> String? {
        guard let r = tag.range(of: " \(name)=\"") else { return nil }
        let rest = tag[r.upperBound...]
        return rest.firstIndex(of: "\"").map { String(rest[..<$0]) }
    }
}
