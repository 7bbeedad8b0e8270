import Core
import Foundation
import MicroscopyIO

extension Calibration {
    /// The calibration a movie is analysed at: the given pixel size, else the file's, else the
    /// model's trained one; the given frame time, else the file's, else none (rates per frame).
    /// Each assumed value is warned about on stderr, since every Å and every second downstream
    /// rests on it (the frame time only when the caller reports times: `locate` has none).
    /// Non-square pixels in the file are refused unless `--pixel-size` overrides them: the
    /// network and the lattice geometry assume square pixels, and AtomTrack does not resample.
    public static func resolve(for movie: Movie, card: ModelCard, pixelSizeFlag: Double?, frameTimeFlag: Double?,
                               usesFrameTime: Bool = true) throws -> Calibration {
        let name = movie.url.lastPathComponent
        if pixelSizeFlag == nil, let c = movie.calibration, movie.pixelSizeA == nil,
           let x = c.x.scaleInAngstrom, let y = c.y.scaleInAngstrom, x > 0, y > 0 {
            throw InputError("\(movie.url.path): non-square pixels (x \(String(format: "%.4g", x)) Å, y \(String(format: "%.4g", y)) Å) are not resampled; resample the movie to square pixels, or pass --pixel-size to treat them as square")
        }
        let c = try resolve(pixelSizeFlag: pixelSizeFlag, pixelSizeFromFile: movie.pixelSizeA,
                            modelPixelSize: card.preferredPixelSize, frameTimeFlag: frameTimeFlag,
                            frameTimeFromFile: movie.frameTime?.seconds)
        if c.pixelSizeSource == .model {
            warn("\(name) has no pixel calibration; assuming \(String(format: "%.3f", c.pixelSize)) Å/px (the model's); pass --pixel-size")
        }
        if usesFrameTime && c.frameTimeSource == .assumed {
            warn("\(name): no frame time in the file or on the command line; D is reported in Å²/frame and timescales in frames; pass --frame-time for Å²/s")
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
