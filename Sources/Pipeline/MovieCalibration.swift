import Core
import Foundation
import Localization
import MicroscopyIO

extension Calibration {
    /// The calibration a movie is analysed at: the given pixel size, else the file's, else the
    /// one measured from the lattice of its first frame, else the model's trained one; the
    /// given frame time, else the file's, else none (rates per frame). Each assumed or measured
    /// value is said on stderr, since every Å and every second downstream rests on it (the frame
    /// time only when the caller reports times: `locate` has none), and so is a given pixel size
    /// that disagrees with the lattice by more than `latticeTolerance`.
    /// Non-square pixels in the file are refused unless `--pixel-size` overrides them: the
    /// network and the lattice geometry assume square pixels, and AtomTrack does not resample.
    public static func resolve(for movie: Movie, finder: AtomFinder, pixelSizeFlag: Double?, frameTimeFlag: Double?,
                               usesFrameTime: Bool = true) throws -> Calibration {
        try resolveLocating(movie, finder: finder, pixelSizeFlag: pixelSizeFlag, frameTimeFlag: frameTimeFlag,
                            usesFrameTime: usesFrameTime).calibration
    }

    /// `resolve`, also handing back frame 0 as the lattice check located it, so that a frame loop
    /// at the same pixel size need not locate it again (`MovieLocator.located`).
    public static func resolveLocating(_ movie: Movie, finder: AtomFinder, pixelSizeFlag: Double?, frameTimeFlag: Double?,
                                       usesFrameTime: Bool = true) throws -> (calibration: Calibration, frame0: LocatedFrame?) {
        let name = movie.url.lastPathComponent, card = finder.model.card
        if pixelSizeFlag == nil, let c = movie.calibration, movie.pixelSizeA == nil,
           let x = c.x.scaleInAngstrom, let y = c.y.scaleInAngstrom, x > 0, y > 0 {
            throw InputError("\(movie.url.path): non-square pixels (x \(String(format: "%.4g", x)) Å, y \(String(format: "%.4g", y)) Å) are not resampled; resample the movie to square pixels, or pass --pixel-size to treat them as square")
        }
        try checkFlags(pixelSize: pixelSizeFlag, frameTime: frameTimeFlag)
        let given = pixelSizeFlag ?? movie.pixelSizeA.flatMap { pixelSizeRange.contains($0) ? $0 : nil }
        let frame0 = locateFirstFrame(movie, finder: finder, pixelSize: given)
        let measured = frame0.flatMap { latticePixelSize($0, card: card) }
        let c = try resolve(pixelSizeFlag: pixelSizeFlag, pixelSizeFromFile: movie.pixelSizeA, pixelSizeFromLattice: measured,
                            modelPixelSize: card.preferredPixelSize, frameTimeFlag: frameTimeFlag,
                            frameTimeFromFile: movie.frameTime?.seconds)
        let size = { (v: Double) in String(format: "%.4f", v) }
        switch c.pixelSizeSource {
        case .lattice:
            warn("\(name) has no pixel calibration; measured \(size(c.pixelSize)) Å/px from the lattice (first-shell bond length against \(card.name)'s \(size(card.columnSpacing)) Å); pass --pixel-size to override")
        case .model:
            warn("\(name) has no pixel calibration and too little lattice to measure one; assuming \(size(c.pixelSize)) Å/px (the model's); pass --pixel-size")
        default:
            if let m = measured, let w = latticeMismatch(name: name, pixelSize: c.pixelSize, source: c.pixelSizeSource, lattice: m) {
                warn(w)
            }
        }
        if usesFrameTime && c.frameTimeSource == .assumed {
            warn("\(name): no frame time in the file or on the command line; D is reported in Å²/frame and timescales in frames; pass --frame-time for Å²/s")
        }
        return (c, frame0)
    }

    /// A given pixel size further than this (relative) from the lattice's is warned about.
    public static let latticeTolerance = 0.03

    /// The warning for a given pixel size more than `latticeTolerance` from the lattice's; nil within it.
    static func latticeMismatch(name: String, pixelSize: Double, source: Calibration.Source, lattice m: Double) -> String? {
        guard abs(m / pixelSize - 1) > latticeTolerance else { return nil }
        let size = { (v: Double) in String(format: "%.4f", v) }
        return "\(name): the pixel size \(size(pixelSize)) Å (\(source.summaryText)) disagrees with the lattice's \(size(m)) Å by \(String(format: "%+.1f", 100 * (m / pixelSize - 1))) %; check the calibration"
    }

    /// Frame 0 located at `pixelSize` (nil: the model's); nil when it cannot be read or is skipped.
    static func locateFirstFrame(_ movie: Movie, finder: AtomFinder, pixelSize: Double?) -> LocatedFrame? {
        guard movie.frameCount > 0, let frame = try? movie.frame(0),
              let (atoms, bounds) = try? finder.locateAtoms(in: frame.pixels, width: frame.width, height: frame.height,
                                                            pixelSize: pixelSize, frame: 0)
        else { return nil }
        return LocatedFrame(index: 0, pixelSize: pixelSize, atoms: atoms, bounds: bounds)
    }

    /// Å per pixel from a frame's lattice: the material's nearest column distance over the
    /// median first-shell bond length of its atoms (`LatticeSpacing`); nil when it holds too little lattice.
    static func latticePixelSize(_ frame: LocatedFrame, card: ModelCard) -> Double? {
        let spacing = card.columnSpacingPixels(pixelSize: frame.pixelSize)
        return LatticeSpacing.nearestColumnDistance(frame.atoms, searchRadius: 2 * spacing).map { card.columnSpacing / $0 }
    }

    private static func warn(_ message: String) {
        FileHandle.standardError.write(Data("warning: \(message)\n".utf8))
    }
}

/// A frame located before the frame loop (the lattice check locates frame 0), kept so that the
/// loop reuses it instead of locating it again (≈ 1.5 s of CPU at 1024²) when it runs at the same pixel size.
public struct LocatedFrame {
    public let index: Int
    /// The pixel size it was located at (nil: the model's, unresampled).
    public let pixelSize: Double?
    public let atoms: [Atom]
    public let bounds: NormalizationBounds

    public init(index: Int, pixelSize: Double?, atoms: [Atom], bounds: NormalizationBounds) {
        self.index = index; self.pixelSize = pixelSize; self.atoms = atoms; self.bounds = bounds
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
