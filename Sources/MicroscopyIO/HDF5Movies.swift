import Foundation

/// Which writer made an HDF5 file, told by its layout: Velox (`/Data/Image`), Berkeley EMD
/// (root `version_major` or an `emd_group_type` group), Nion Swift (root dataset `data` with a
/// `properties` attribute).
enum HDF5Layout {
    static func open(_ url: URL, signal: String?) throws -> FrameSource {
        try FileManager.default.requireFile(url)
        let file = try HDF5File(path: url.path)
        if file.exists("/Data/Image") { return try VeloxEMD.open(file, signal: signal) }
        if let properties = file.stringAttribute("properties", of: "/data") { return try NionHDF5.open(file, properties: properties) }
        if file.numberAttribute("version_major") != nil || !BerkeleyEMD.groups(file).isEmpty {
            return try BerkeleyEMD.open(file, signal: signal)
        }
        throw MicroscopyIOError.unsupported(
            path: url.path, detail: "an HDF5 file in none of the layouts read (Velox EMD /Data/Image, Berkeley EMD emd_group_type groups, Nion Swift /data with properties)")
    }
}

/// Frames of one HDF5 dataset, read one hyperslab per frame: (frames, H, W) with the frame
/// axis first (Berkeley, Nion), (H, W, frames) with it last (Velox), or one (H, W) image.
final class HDF5FrameSource: FrameSource {
    enum FrameAxis { case first, last, none }
    let info: MovieInfo
    private let dataset: HDF5Dataset
    private let axis: FrameAxis

    /// Checks the dataset's shape and type against `axis`, then describes it in `info` (whose
    /// size, frame count and sample type are filled in here).
    init(dataset: HDF5Dataset, axis: FrameAxis, info partial: MovieInfo) throws {
        let path = dataset.file.path, s = dataset.shape
        let expected = axis == .none ? 2 : 3
        guard s.count == expected else {
            throw MicroscopyIOError.notAnImage(
                path: path, detail: "\(dataset.name) has shape \(s); expected a 2-D image or a stack \(axis == .last ? "(height, width, frames)" : "(frames, height, width)")")
        }
        let (f, h, w) = axis == .first ? (s[0], s[1], s[2]) : axis == .last ? (s[2], s[0], s[1]) : (1, s[0], s[1])
        try IOLimits.check(width: w, height: h, frames: f, path: path)
        guard let type = dataset.sampleType else {
            throw MicroscopyIOError.unsupported(
                path: path, detail: "\(dataset.name) holds \(dataset.typeDescription) samples (supported: 8/16/32-bit int, 32/64-bit float)")
        }
        var i = partial
        (i.frameCount, i.width, i.height, i.sampleType) = (f, w, h, type)
        info = i
        self.dataset = dataset; self.axis = axis
    }

    func readFrame(_ index: Int, into dst: UnsafeMutableBufferPointer<Float>) throws {
        let (h, w) = (info.height, info.width)
        switch axis {
        case .first: try dataset.read(start: [index, 0, 0], count: [1, h, w], into: dst)
        case .last: try dataset.read(start: [0, 0, index], count: [h, w, 1], into: dst)
        case .none: try dataset.read(start: [0, 0], count: [h, w], into: dst)
        }
    }
}

/// Picks one signal of a multi-signal file by name, or the default.
struct SignalChoice {
    /// Name shown to the user (unique in the file) and the key used to open it.
    var names: [String]

    /// The index of `requested` (exact name, or a unique case-insensitive prefix), else of
    /// `preferred` when given, else `fallback`.
    func pick(_ requested: String?, preferred: Int?, fallback: Int, path: String) throws -> Int {
        guard let r = requested else { return preferred ?? fallback }
        if let exact = names.firstIndex(of: r) { return exact }
        let matches = names.indices.filter { names[$0].lowercased().hasPrefix(r.lowercased()) }
        guard matches.count == 1 else {
            throw MicroscopyIOError.noSuchSignal(path: path, signal: r, available: (matches.count > 1 ? "ambiguous; " : "") + "the file holds " + names.joined(separator: ", "))
        }
        return matches[0]
    }
}
