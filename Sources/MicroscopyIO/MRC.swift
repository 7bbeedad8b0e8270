import Core
import Foundation

/// MRC 2014 (`.mrc`, `.mrcs`): a 1024-byte header (nx, ny, nz, mode, …, cell size in Å,
/// `NSYMBT` extended-header bytes, `EXTTYP`, byte order in `MACHST`), then the extended
/// header, then nz frames of ny rows of nx samples. Pixel size = cell a / mx (per axis).
///
/// Extended headers: FEI1/FEI2 (Velox, EPU) records give the frame time (`Frame time`, s);
/// a Direct Electron movie states a dummy −10 Å pixel and keeps the truth in the
/// `<prefix>_info.txt` beside it (`Specimen Pixel Size X/Y (nanometers)`,
/// `Frame Time (nanoseconds)`).
final class MRCSource: FrameSource {
    let info: MovieInfo
    private let data: Data
    private let dataOffset: Int
    private let bigEndian: Bool

    init(url: URL) throws {
        let path = url.path
        data = try FileManager.default.mappedFile(url)
        guard data.count >= 1024 else { throw MicroscopyIOError.corrupt(path: path, detail: "MRC: \(data.count) bytes is shorter than the 1024-byte header") }
        // MACHST 0x11 0x11 = big endian; anything else (0x44 0x44/0x41, or 0 from old writers) little.
        bigEndian = data[data.startIndex + 212] == 0x11 && data[data.startIndex + 213] == 0x11
        var r = ByteReader(data, bigEndian: bigEndian)
        func int(_ at: Int) -> Int { r.offset = at; return Int(Int32(bitPattern: (try? r.uint32()) ?? 0)) }
        func float(_ at: Int) -> Double { r.offset = at; return Double((try? r.float()) ?? .nan) }
        let (nx, ny, nz, mode) = (int(0), int(4), int(8), int(12))
        let types: [Int: SampleType] = [0: .int8, 1: .int16, 2: .float32, 6: .uint16]
        guard let type = types[mode] else {
            let names = [3: "complex int16", 4: "complex float32", 12: "float16", 101: "4-bit"]
            throw MicroscopyIOError.unsupported(path: path, detail: "MRC mode \(mode) (\(names[mode] ?? "unknown")); supported: 0 int8, 1 int16, 2 float32, 6 uint16")
        }
        try IOLimits.check(width: nx, height: ny, frames: nz, path: path)
        let extended = int(92)
        guard extended >= 0, extended <= data.count - 1024 else {
            throw MicroscopyIOError.corrupt(path: path, detail: "MRC: extended header of \(extended) bytes runs past the end of the \(data.count)-byte file")
        }
        dataOffset = 1024 + extended
        let need = nx * ny * nz * type.byteCount
        guard need <= data.count - dataOffset else {
            throw MicroscopyIOError.corrupt(path: path, detail: "MRC: \(nz) frames of \(nx)×\(ny) \(type.rawValue) need \(need) bytes after byte \(dataOffset), the file has \(data.count - dataOffset) (truncated?)")
        }
        let (mx, my) = (int(28), int(32))
        let cell = (x: float(40), y: float(44))
        var cal: FileCalibration? = nil
        if mx > 0, my > 0, cell.x > 0, cell.y > 0 {
            cal = FileCalibration(x: AxisCalibration(scale: cell.x / Double(mx), unit: "Å"), y: AxisCalibration(scale: cell.y / Double(my), unit: "Å"))
        }
        var frameTime: FileFrameTime? = nil
        let exttyp = String(decoding: data[(data.startIndex + 104)..<(data.startIndex + 108)], as: UTF8.self)
        if exttyp == "FEI1" || exttyp == "FEI2", extended >= 587 {
            r.offset = 1024 + 579
            frameTime = FileFrameTime.valid(try? r.double(), key: "\(exttyp) extended header Frame time")
        }
        if let de = MRCSource.directElectronInfo(for: url) {
            if cal == nil, let x = de["Specimen Pixel Size X (nanometers)"].flatMap(Double.init),
               let y = de["Specimen Pixel Size Y (nanometers)"].flatMap(Double.init) {
                cal = FileCalibration(x: AxisCalibration(scale: x, unit: "nm"), y: AxisCalibration(scale: y, unit: "nm"))
            }
            frameTime = frameTime ?? FileFrameTime.valid(de["Frame Time (nanoseconds)"].flatMap(Double.init).map { $0 * 1e-9 },
                                                         key: "DE info.txt Frame Time (nanoseconds)")
        }
        info = MovieInfo(format: .mrc, frameCount: nz, width: nx, height: ny, sampleType: type, calibration: cal, frameTime: frameTime)
    }

    func readFrame(_ index: Int, into dst: UnsafeMutableBufferPointer<Float>) throws {
        let bytes = dst.count * info.sampleType.byteCount, start = dataOffset + index * bytes
        data.withUnsafeBytes { raw in
            SampleCodec.decode(UnsafeRawBufferPointer(rebasing: raw[start..<(start + bytes)]), type: info.sampleType,
                               bigEndian: bigEndian, into: dst)
        }
    }

    func readBands(_ index: Int, _ body: (UnsafeBufferPointer<Float>) throws -> Void) throws {
        try readStoredBands(data, start: dataOffset + index * info.width * info.height * info.sampleType.byteCount,
                            bigEndian: bigEndian, body)
    }

    /// `key = value` lines of the Direct Electron `<prefix>_info.txt` beside `<prefix>_movie.mrc`
    /// (or `<stem>_info.txt`); nil when there is none.
    static func directElectronInfo(for mrc: URL) -> [String: String]? {
        let stem = mrc.deletingPathExtension().lastPathComponent
        let prefix = stem.hasSuffix("_movie") ? String(stem.dropLast(6)) : stem
        let txt = mrc.deletingLastPathComponent().appendingPathComponent(prefix + "_info.txt")
        guard (try? FileManager.default.requireFile(txt)) != nil, let bytes = try? Data(contentsOf: txt), bytes.count < 1 << 24 else { return nil }
        var out: [String: String] = [:]
        for line in String(decoding: bytes, as: UTF8.self).split(whereSeparator: \.isNewline) {
            guard let eq = line.firstIndex(of: "=") else { continue }
            out[line[..<eq].trimmingCharacters(in: .whitespaces)] = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
        }
        return out
    }
}
