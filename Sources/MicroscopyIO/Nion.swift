import Foundation

/// Nion Swift's data-item properties (the JSON in `.ndata`'s metadata.json and `.h5`'s
/// `properties` attribute): which axes are frames, the per-axis calibrations, the exposure.
struct NionProperties {
    var calibration: FileCalibration?
    var frameTime: FileFrameTime?
    private let object: [String: Any]

    init(json: Data, path: String) throws {
        guard let o = try? JSONSerialization.jsonObject(with: json) as? [String: Any] else {
            throw MicroscopyIOError.corrupt(path: path, detail: "Nion properties are not a JSON object")
        }
        object = o
    }

    /// Checks that an array of `rank` axes is an image or a sequence of images, then reads the
    /// calibration of the last two axes and the frame time: the sequence axis's calibration
    /// when in seconds, else `metadata.hardware_source.exposure` (a camera sequence leaves its
    /// sequence axis uncalibrated).
    mutating func describe(rank: Int, path: String) throws {
        let sequence = object["is_sequence"] as? Bool ?? false
        let collection = (object["collection_dimension_count"] as? NSNumber)?.intValue ?? 0
        let datum = (object["datum_dimension_count"] as? NSNumber)?.intValue ?? 2
        let frames = (sequence ? 1 : 0) + collection
        guard datum == 2, frames + 2 == rank, frames <= 1 else {
            throw MicroscopyIOError.notAnImage(
                path: path, detail: "Nion data of \(rank) axes: \(sequence ? "a sequence of " : "")\(collection) collection and \(datum) datum axes; expected a 2-D image or a sequence of them")
        }
        let axes: [AxisCalibration] = (object["dimensional_calibrations"] as? [[String: Any]] ?? []).map {
            AxisCalibration(scale: ($0["scale"] as? NSNumber)?.doubleValue ?? 1, unit: $0["units"] as? String ?? "")
        }
        if axes.count == rank {
            calibration = FileCalibration(x: axes[rank - 1], y: axes[rank - 2], z: rank == 3 ? axes[0] : nil)
            if rank == 3, axes[0].unit == "s" { frameTime = FileFrameTime.valid(axes[0].scale, key: "dimensional_calibrations[0] (s)") }
        }
        if frameTime == nil {
            let exposure = ((object["metadata"] as? [String: Any])?["hardware_source"] as? [String: Any])?["exposure"] as? NSNumber
            frameTime = FileFrameTime.valid(exposure?.doubleValue, key: "metadata.hardware_source.exposure")
        }
    }
}

/// Nion Swift `.h5`: one root dataset `data`, (frames, H, W) or (H, W), its properties JSON
/// in the attribute `properties`.
enum NionHDF5 {
    static func open(_ file: HDF5File, properties: String) throws -> FrameSource {
        let data = try file.dataset("/data")
        var p = try NionProperties(json: Data(properties.utf8), path: file.path)
        try p.describe(rank: data.shape.count, path: file.path)
        let info = MovieInfo(format: .nionHDF5, frameCount: 0, width: 0, height: 0, sampleType: .uint8,
                             calibration: p.calibration, frameTime: p.frameTime)
        return try HDF5FrameSource(dataset: data, axis: data.shape.count == 3 ? .first : .none, info: info)
    }
}

/// Nion Swift `.ndata`: a ZIP written by Nion's own minimal writer with two stored members,
/// `data.npy` (read in place by the NPY reader, frame by frame) and `metadata.json`.
/// Compressed members are refused (Nion never writes them).
final class NionNDataSource: FrameSource {
    private let npy: NPYSource
    var info: MovieInfo { npy.info }

    init(url: URL) throws {
        let path = url.path, data = try FileManager.default.mappedFile(url)
        let zip = try ZipArchive(data, path: path)
        func member(_ name: String) throws -> Range<Int> {
            guard let m = zip.members.first(where: { $0.name == name }) else {
                throw MicroscopyIOError.corrupt(path: path, detail: "ndata: no \(name) member (has \(zip.members.map(\.name).joined(separator: ", ")))")
            }
            guard m.method == 0, m.size == m.compressedSize else {
                throw MicroscopyIOError.unsupported(path: path, detail: "ndata member \(name) is compressed (method \(m.method)); only stored members are read")
            }
            return m.dataOffset..<(m.dataOffset + m.size)
        }
        let json = try member("metadata.json"), array = try member("data.npy")
        var p = try NionProperties(json: data.subdata(in: json), path: path)
        let rank = try NPYHeader.parse(Data(data[array.lowerBound..<min(array.upperBound, array.lowerBound + (1 << 20))]), path: path).shape.count
        try p.describe(rank: rank, path: path)
        npy = try NPYSource(data: data, range: array, path: path, format: .nionNData, calibration: p.calibration, frameTime: p.frameTime)
    }

    func readFrame(_ index: Int, into dst: UnsafeMutableBufferPointer<Float>) throws { try npy.readFrame(index, into: dst) }
}
