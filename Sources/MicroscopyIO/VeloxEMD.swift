import Foundation

/// Thermo Fisher Velox `.emd` (HDF5): each image is `/Data/Image/<uuid>/` with `Data` of shape
/// (height, width, frames) and `Metadata`, a uint8 (bytes, frames) array holding one
/// NUL-padded JSON document per frame whose values are all strings.
///
/// A file can hold several detectors (HAADF, BF, DF4 …); each is a signal named after
/// `BinaryResult.Detector` (plus the uuid's first 8 digits when a name repeats). HAADF is read
/// unless `--signal` names another; without HAADF, the largest image.
enum VeloxEMD {
    struct Image {
        var uuid: String
        var detector: String
        var metadata: [String: Any]
        var data: HDF5Dataset
    }

    static func open(_ file: HDF5File, signal: String?) throws -> FrameSource {
        let images = try self.images(file)
        guard !images.isEmpty else { throw MicroscopyIOError.notAnImage(path: file.path, detail: "Velox EMD without images in /Data/Image") }
        let names = signalNames(images)
        let sizes = images.map { $0.data.shape.reduce(1, *) }
        let haadf = images.firstIndex { $0.detector == "HAADF" }
        let k = try SignalChoice(names: names).pick(signal, preferred: haadf, fallback: sizes.firstIndex(of: sizes.max()!)!, path: file.path)
        let image = images[k]
        let info = MovieInfo(format: .veloxEMD, frameCount: 0, width: 0, height: 0, sampleType: .uint8,
                             calibration: calibration(image.metadata), frameTime: frameTime(image.metadata),
                             signals: names, signal: names[k])
        return try HDF5FrameSource(dataset: image.data, axis: image.data.shape.count == 2 ? .none : .last, info: info)
    }

    /// Every image with its detector name and first frame's metadata (empty when absent).
    static func images(_ file: HDF5File) throws -> [Image] {
        try file.children(of: "/Data/Image", limit: 10_000).compactMap { uuid in
            let group = "/Data/Image/\(uuid)"
            guard file.exists(group + "/Data") else { return nil }
            let metadata = (try? firstFrameMetadata(file, group)) ?? [:]
            let detector = string(metadata, "BinaryResult.Detector") ?? "image"
            return Image(uuid: uuid, detector: detector, metadata: metadata, data: try file.dataset(group + "/Data"))
        }
    }

    /// Detector names, made unique with the uuid's first 8 digits where they repeat.
    static func signalNames(_ images: [Image]) -> [String] {
        images.map { i in images.filter { $0.detector == i.detector }.count > 1 ? "\(i.detector):\(i.uuid.prefix(8))" : i.detector }
    }

    private static func firstFrameMetadata(_ file: HDF5File, _ group: String) throws -> [String: Any] {
        let m = try file.dataset(group + "/Metadata")
        guard m.shape.count == 2, m.shape[0] > 0, m.shape[0] <= 1 << 24, m.shape[1] > 0 else { return [:] }
        let bytes = try m.readBytes(start: [0, 0], count: [m.shape[0], 1])
        let json = Data(bytes.prefix { $0 != 0 })
        return (try? JSONSerialization.jsonObject(with: json) as? [String: Any]) ?? [:]
    }

    /// `BinaryResult.PixelSize.{width,height}` in `PixelUnitX/Y`.
    static func calibration(_ m: [String: Any]) -> FileCalibration? {
        guard let w = number(m, "BinaryResult.PixelSize.width"), let h = number(m, "BinaryResult.PixelSize.height") else { return nil }
        return FileCalibration(x: AxisCalibration(scale: w, unit: string(m, "BinaryResult.PixelUnitX") ?? "m"),
                               y: AxisCalibration(scale: h, unit: string(m, "BinaryResult.PixelUnitY") ?? "m"))
    }

    /// `Scan.FrameTime` (STEM), else the exposure of the detector that made the image (camera).
    static func frameTime(_ m: [String: Any]) -> FileFrameTime? {
        if let t = FileFrameTime.valid(number(m, "Scan.FrameTime"), key: "Scan.FrameTime") { return t }
        guard let name = string(m, "BinaryResult.Detector"), let detectors = m["Detectors"] as? [String: Any] else { return nil }
        for (key, value) in detectors.sorted(by: { $0.key < $1.key }) {
            guard let d = value as? [String: Any], d["DetectorName"] as? String == name else { continue }
            return FileFrameTime.valid(number(d, "ExposureTime"), key: "Detectors.\(key).ExposureTime")
        }
        return nil
    }

    /// The string at a dotted key path.
    static func string(_ m: [String: Any], _ keyPath: String) -> String? {
        var node: Any? = m
        for part in keyPath.split(separator: ".") { node = (node as? [String: Any])?[String(part)] }
        return node as? String ?? (node as? NSNumber)?.stringValue
    }

    static func number(_ m: [String: Any], _ keyPath: String) -> Double? { string(m, keyPath).flatMap { Double($0) } }
}
