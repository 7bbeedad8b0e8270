import Core
import Foundation
import MicroscopyIO

extension Calibration {
    /// The calibration a movie is analysed at: the given pixel size, else the file's, else the
    /// model's trained one; the given frame time, else 1 s. Each assumed value is warned about
    /// on stderr, since every Å and every second downstream rests on it (the frame time only
    /// when the caller reports times: `locate` has none).
    public static func resolve(for movie: Movie, card: ModelCard, pixelSizeFlag: Double?, frameTimeFlag: Double?,
                               usesFrameTime: Bool = true) throws -> Calibration {
        let c = try resolve(pixelSizeFlag: pixelSizeFlag, pixelSizeFromFile: movie.pixelSizeA,
                            modelPixelSize: card.preferredPixelSize, frameTimeFlag: frameTimeFlag)
        let name = movie.url.lastPathComponent
        if c.pixelSizeSource == .model {
            warn("\(name) has no pixel calibration; assuming \(String(format: "%.3f", c.pixelSize)) Å/px (the model's); pass --pixel-size")
        }
        if usesFrameTime && c.frameTimeSource == .assumed {
            warn("\(name): no frame time given; assuming 1 s per frame for Å²/s and timescales in s; pass --frame-time")
        }
        return c
    }

    private static func warn(_ message: String) {
        FileHandle.standardError.write(Data("warning: \(message)\n".utf8))
    }
}

extension Calibration.Source {
    /// How summary.json and the report name where a value came from.
    public var summaryText: String {
        switch self {
        case .flag: "command line"
        case .file: "file metadata"
        case .lattice: "measured from the lattice"
        case .model: "assumed (model's trained pixel size)"
        case .assumed: "assumed"
        }
    }
}
