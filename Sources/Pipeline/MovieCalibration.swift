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
        let name = movie.url.lastPathComponent, card = finder.model.card
        if pixelSizeFlag == nil, let c = movie.calibration, movie.pixelSizeA == nil,
           let x = c.x.scaleInAngstrom, let y = c.y.scaleInAngstrom, x > 0, y > 0 {
            throw InputError("\(movie.url.path): non-square pixels (x \(String(format: "%.4g", x)) Å, y \(String(format: "%.4g", y)) Å) are not resampled; resample the movie to square pixels, or pass --pixel-size to treat them as square")
        }
        try checkFlags(pixelSize: pixelSizeFlag, frameTime: frameTimeFlag)
        let given = pixelSizeFlag ?? movie.pixelSizeA.flatMap { pixelSizeRange.contains($0) ? $0 : nil }
        let measured = latticePixelSize(movie, finder: finder, assumed: given)
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
        return c
    }

    /// A given pixel size further than this (relative) from the lattice's is warned about.
    public static let latticeTolerance = 0.03

    /// The warning for a given pixel size more than `latticeTolerance` from the lattice's; nil within it.
    static func latticeMismatch(name: String, pixelSize: Double, source: Calibration.Source, lattice m: Double) -> String? {
        guard abs(m / pixelSize - 1) > latticeTolerance else { return nil }
        let size = { (v: Double) in String(format: "%.4f", v) }
        return "\(name): the pixel size \(size(pixelSize)) Å (\(source.summaryText)) disagrees with the lattice's \(size(m)) Å by \(String(format: "%+.1f", 100 * (m / pixelSize - 1))) %; check the calibration"
    }

    /// Å per pixel from the first frame's lattice: the material's nearest column distance over the
    /// median first-shell bond length of the atoms found there (`LatticeSpacing`) (run at `assumed`, else the
    /// model's pixel size); nil when the frame cannot be read or holds too little lattice.
    static func latticePixelSize(_ movie: Movie, finder: AtomFinder, assumed: Double?) -> Double? {
        guard movie.frameCount > 0, let frame = try? movie.frame(0),
              let atoms = try? finder.atoms(in: frame.pixels, width: frame.width, height: frame.height, pixelSize: assumed)
        else { return nil }
        let card = finder.model.card
        let spacing = card.columnSpacingPixels(pixelSize: assumed)
        return LatticeSpacing.nearestColumnDistance(atoms, searchRadius: 2 * spacing).map { card.columnSpacing / $0 }
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
