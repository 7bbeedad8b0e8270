import Core
import Foundation
import Localization
import Networks
import Tensors

/// One frame in, atoms out: robust normalization → tiled, blended U-Net segmentation →
/// per-class localization with 2-D Gaussian refinement. Frames whose pixel size lies
/// outside the model's trained range are resampled to it first and the coordinates are
/// mapped back, so callers always get positions in the frame's own pixels.
public struct AtomFinder {
    public struct Options: Codable, Sendable, Equatable {
        /// Largest tile side (px) the network sees; a frame is cut into the fewest tiles of at most
        /// this side (rounded to the network's multiple), each only as large as covering it needs.
        /// 1056 = a 1024² frame with its blending margin: one tile, no seams.
        public var tile = 1056
        public var overlap = 32
        public var batchSize = 4
        /// Class probability above which a pixel belongs to an atom.
        public var threshold: Float = 0.5
        /// Fit a 2-D Gaussian to the raw frame around each centroid.
        public var refine = true
        /// Relative tolerance on the pixel size before resampling (0.25 = ±25 % beyond the trained range).
        public var pixelSizeTolerance = 0.25
        /// Test-time augmentation: average the class probabilities over the 8 dihedral views of
        /// every tile (`TestTimeAugmentation`; 8× the network time).
        public var tta = false
        /// Keep a two-element class (`W+Mo`) merged instead of splitting its light element off by
        /// Z-contrast (`OutputClasses`).
        public var mergeDopants = false
        public init() {}

        /// Refuses settings that would skip every frame or silently change the tiling (a tile
        /// that is not a multiple of the network's `multiple`, e.g. 7 for a 3-level U-Net),
        /// naming them as config.json does (`finder.tile`).
        public func validate(multiple: Int = 1) throws {
            try InputError.require(tile >= max(8, multiple) && tile <= 8192 && tile % multiple == 0, "finder.tile", tile,
                                   "expected a multiple of \(multiple) px (the network's size divisor), \(max(8, multiple))–8192")
            try InputError.require(overlap >= 0 && 2 * overlap <= tile, "finder.overlap", overlap, "expected 0 ≤ overlap ≤ tile/2")
            try InputError.require(batchSize >= 1 && batchSize <= 1024, "finder.batchSize", batchSize, "expected 1–1024")
            try InputError.require(threshold.isFinite && threshold > 0 && threshold < 1, "finder.threshold", threshold,
                                   "expected 0 < threshold < 1")
            try InputError.require(pixelSizeTolerance.isFinite && (0...10).contains(pixelSizeTolerance), "finder.pixelSizeTolerance",
                                   pixelSizeTolerance, "expected 0–10")
        }
    }

    public let model: TrainedModel
    public let options: Options
    public let normalization: FrameNormalization
    /// The classes its atoms carry (the card's, with a dopant split off unless merged).
    public let outputClasses: OutputClasses
    /// Each atom's calibrated class probability (the card's `classCalibration`).
    public let classProbability: ClassProbability
    /// Each atom's calibrated position σ (the card's `positionCalibration`).
    public let positionSigma: PositionSigma

    /// - Throws: `InputError` for invalid options, among them `mergeDopants` for a model with
    ///   no two-element class to merge.
    public init(model: TrainedModel, options: Options = Options()) throws {
        try options.validate(multiple: 1 << model.network.modelDescription.depth)
        guard !options.mergeDopants || OutputClasses.hasDopantToMerge(model.card) else {
            throw InputError("--merge-dopants (finder.mergeDopants) does not apply: model \(model.card.name) has no class of two elements told apart by contrast (classes \(model.card.classes.map(\.symbol).joined(separator: ", ")))")
        }
        self.model = model
        self.options = options
        normalization = try FrameNormalization()
        outputClasses = OutputClasses(card: model.card, mergeDopants: options.mergeDopants)
        classProbability = ClassProbability(outputClasses: outputClasses, calibration: model.card.classCalibration)
        positionSigma = PositionSigma(outputClasses: outputClasses, calibration: model.card.positionCalibration)
    }

    /// The network's size divisor (2^depth).
    var multiple: Int { 1 << model.network.modelDescription.depth }

    /// Pixel size (Å) to run the network at for a frame of pixel size `pixelSize`, or nil to
    /// run as is. Unknown calibration runs as is (the caller warns).
    public func workingPixelSize(for pixelSize: Double?) -> Double? {
        guard let p = pixelSize, p > 0 else { return nil }
        let r = model.card.pixelSizeRange, tol = options.pixelSizeTolerance
        if p >= r[0] * (1 - tol) && p <= r[1] * (1 + tol) { return nil }
        return model.card.preferredPixelSize
    }

    /// Tile side and overlap for a frame: the fewest tiles per axis of at most `options.tile` px
    /// that cover the frame and its blending margin, each just large enough. The network is
    /// fully convolutional, so one large tile costs only its pixels, while small tiles repeat
    /// the overlaps (a 1024² frame: one tile of 1056², 1.06× the pixels, instead of 2×2 of 544²,
    /// 1.13×, or 5×5 of 256², 1.56×; a 512² frame: one tile of 544²). Tiles are at least 4 × overlap wide.
    func tiling(width: Int, height: Int) -> (tile: Int, overlap: Int) {
        let m = multiple
        func roundUp(_ v: Int) -> Int { (v + m - 1) / m * m }
        let limit = max(m, options.tile / m * m)
        let overlap = min(options.overlap, limit / 4), extent = max(width, height)
        var n = 1
        while true {
            // n tiles of side s with stride s − overlap cover extent + overlap when n·s − (n−1)·overlap ≥ extent + overlap.
            let side = max(roundUp((extent + n * overlap + n - 1) / n), roundUp(4 * overlap), m)
            if side <= limit { return (side, overlap) }
            n += 1
        }
    }

    /// Class probabilities of a frame at its own size (no resampling).
    public func probabilities(_ pixels: [Float], width: Int, height: Int, frame: Int = 0) throws -> (ProbabilityMaps, NormalizedFrame) {
        let normalized = try normalization.normalize(pixels, width: width, height: height, frame: frame)
        return (try segment(normalized), normalized)
    }

    /// The network's class probabilities of a normalized frame, tiled and blended.
    func segment(_ normalized: NormalizedFrame) throws -> ProbabilityMaps {
        let tiler = try tiler(width: normalized.width, height: normalized.height)
        return try tiler.segment(normalized.pixels, width: normalized.width, height: normalized.height, segmenter: segmenter(tiler))
    }

    /// The tiling of a frame of this size.
    func tiler(width: Int, height: Int) throws -> TiledSegmenter {
        let (tile, overlap) = tiling(width: width, height: height)
        let batch = min(options.batchSize, max(1, Self.batchPixels / (tile * tile)))
        return try TiledSegmenter(tile: tile, overlap: overlap, batchSize: batch, multiple: multiple)
    }

    /// Most pixels one network call sees (4 tiles of 544², or one of 1056²): the activations of
    /// a call scale with its pixels, so larger tiles go in smaller batches and peak memory stays put.
    static let batchPixels = 4 * 544 * 544

    /// The network as the tiler calls it (over the 8 dihedral views of each tile with `tta`).
    func segmenter(_ tiler: TiledSegmenter) -> TiledSegmenter.Segmenter {
        let network = model.network, tile = tiler.tile
        let plain: TiledSegmenter.Segmenter = { tiles, count in
            let input = try Tensor(shape: [count, 1, tile, tile], data: tiles)
            return try network.probabilities(input, batchSize: count).data
        }
        return options.tta ? TestTimeAugmentation.dihedral(plain, tile: tile) : plain
    }

    /// Atoms of one frame, in the frame's pixel coordinates.
    /// - Parameter pixelSize: Å per pixel when known; frames far outside the trained range are resampled.
    public func atoms(in pixels: [Float], width: Int, height: Int, pixelSize: Double?, frame: Int = 0) throws -> [Atom] {
        try locate(in: pixels, width: width, height: height, pixelSize: pixelSize, frame: frame).atoms
    }

    /// Atoms of one frame (as `atoms(in:…)`) and the frame normalized at its own size, so later
    /// stages (the defect crops) reuse the normalization instead of repeating it.
    public func locate(in pixels: [Float], width: Int, height: Int, pixelSize: Double?,
                       frame: Int = 0) throws -> (atoms: [Atom], normalized: NormalizedFrame) {
        let (atoms, bounds) = try locateAtoms(in: pixels, width: width, height: height, pixelSize: pixelSize, frame: frame)
        return (atoms, bounds.apply(pixels, width: width, height: height))
    }

    /// Atoms of one frame (as `atoms(in:…)`) and its normalization, holding no normalized copy
    /// of the frame and no whole-frame probability maps: tiles are normalized as they are cut
    /// and the frame is segmented and localized in bands of `bandRows` rows (`BandedLocation`).
    public func locateAtoms(in pixels: [Float], width: Int, height: Int, pixelSize: Double?, frame: Int = 0,
                            bandRows: Int = BandedLocation.defaultBandRows) throws -> (atoms: [Atom], bounds: NormalizationBounds) {
        let found = try locateWithEvidence(in: pixels, width: width, height: height, pixelSize: pixelSize, frame: frame, bandRows: bandRows)
        return (found.atoms, found.bounds)
    }

    /// `locateAtoms`, also returning each atom's uncalibrated contrast log-odds of being the split-off
    /// light element (`ClassProbability.contrastLogOdds`; nil where not measured) and the frame's
    /// signal-to-noise (`FrameSignal`), which `calibrate` fits.
    func locateWithEvidence(in pixels: [Float], width: Int, height: Int, pixelSize: Double?, frame: Int = 0,
                            bandRows: Int = BandedLocation.defaultBandRows) throws
        -> (atoms: [Atom], bounds: NormalizationBounds, contrastLogOdds: [Double?], frameSignal: Double?) {
        if let p = pixelSize {
            // A calibration 20× outside the trained range is a wrong calibration, not a frame to
            // resample (1000 Å/px would mean a 10⁶-pixel-wide resampled frame).
            let r = model.card.pixelSizeRange
            guard p.isFinite, p > 0, p <= r[1] * 20, p >= r[0] / 20 else {
                throw ModelError.mismatch("frame \(frame): pixel size \(p) Å is far outside the model's \(r[0])–\(r[1]) Å; check the calibration or pass --pixel-size")
            }
        }
        let bounds = try normalization.bounds(pixels, width: width, height: height, frame: frame)
        // A frame without contrast (blank, all zeros) carries no atoms. The network would see an
        // all-zero input and may still report a few (3 S "atoms" in a blank 256² WS2 frame).
        guard !bounds.isConstant else { return ([], bounds, [], nil) }
        var image = pixels, size = (width, height), working = bounds, scale = 1.0, effectivePixelSize = pixelSize
        if let target = workingPixelSize(for: pixelSize), let p = pixelSize {
            scale = p / target   // > 1 enlarges the frame
            let (resampled, w, h) = Resample.bilinear(pixels, width: width, height: height, scale: scale)
            (image, size) = (resampled, (w, h))
            working = try normalization.bounds(image, width: w, height: h, frame: frame)
            effectivePixelSize = target
        }
        let tiler = try tiler(width: size.0, height: size.1)
        let bands = try BandedLocation(tiler: tiler, locator: try makeLocator(pixelSize: effectivePixelSize), bandRows: bandRows)
        var atoms = try bands.atoms(in: image, width: size.0, height: size.1, normalizing: working, segmenter: segmenter(tiler))
        if scale != 1 {
            // Resampled pixel centres map back as x = (x' + 0.5) / scale − 0.5.
            for i in atoms.indices {
                atoms[i].x = (atoms[i].x + 0.5) / scale - 0.5
                atoms[i].y = (atoms[i].y + 0.5) / scale - 0.5
                atoms[i].positionSigma = atoms[i].positionSigma.map { $0 / scale }
            }
        }
        // The dopant by Z-contrast, on the raw frame at its own pixel size.
        var logOdds = [Double?](repeating: nil, count: atoms.count)
        if let split = outputClasses.contrastSplit(columnSpacingPixels: model.card.columnSpacingPixels(pixelSize: pixelSize)) {
            let ratios = split.split(&atoms, frame: pixels, width: width, height: height)
            logOdds = ClassProbability.contrastLogOdds(ratios, count: atoms.count, split: split)
        }
        let spacing = model.card.columnSpacingPixels(pixelSize: pixelSize)
        let signal = FrameSignal.logSignalToNoise(atoms: atoms, frame: pixels, width: width, height: height, columnSpacingPixels: spacing)
        classProbability.assign(&atoms, contrastLogOdds: logOdds, frameSignal: signal)
        positionSigma.apply(&atoms, workingScale: scale, frameSignal: signal, columnSpacingPixels: spacing)
        return (atoms, bounds, logOdds, signal)
    }

    /// Localizer settings scaled to the lattice: separation 0.55 × the column spacing, a
    /// refinement half-window of 0.75 × the spacing (2–8 px; the smallest that left no class worse
    /// than its centroid on the multislice frames — 0.6 lost C and Si at 10⁵, 1.0 gains nothing:
    /// ACCURACY.md, "The fit window and the weighing"), starting σ 0.3 × the spacing, 4 neighbour
    /// rounds (8 gave the same RMSE within 0.004 px at 1.4× the fits' CPU; 2 lost S at 10⁶).
    /// - Parameter pixelSize: nil when unknown (the model's trained pixel size is assumed).
    public func makeLocator(pixelSize: Double?) throws -> AtomLocator {
        let spacingPx = model.card.columnSpacingPixels(pixelSize: pixelSize)
        let halfWindow = min(8, max(2, Int((spacingPx * 0.75).rounded())))
        let refinement = options.refine
            ? GaussianRefinement(halfWindow: halfWindow, initialSigma: max(0.8, 0.3 * spacingPx), maxShift: 1, maxIterations: 60,
                                 neighbourRounds: 4)
            : nil
        return try AtomLocator(threshold: options.threshold, minSeparation: max(1, 0.55 * spacingPx),
                               minArea: 2, backgroundClass: model.card.backgroundClass,
                               borderMargin: 2, refinement: refinement)
    }
}

/// Image resampling used to bring frames to a model's pixel size.
public enum Resample {
    /// Bilinear resampling by `scale` (output side = round(side × scale)); pixel centres are
    /// aligned so that x_out = (x_in + 0.5) × scale − 0.5.
    public static func bilinear(_ pixels: [Float], width: Int, height: Int, scale: Double) -> ([Float], Int, Int) {
        let w2 = max(1, Int((Double(width) * scale).rounded())), h2 = max(1, Int((Double(height) * scale).rounded()))
        var out = [Float](repeating: 0, count: w2 * h2)
        for y in 0..<h2 {
            let sy = min(max((Double(y) + 0.5) / scale - 0.5, 0), Double(height - 1))
            let y0 = Int(sy), y1 = min(y0 + 1, height - 1), fy = Float(sy - Double(y0))
            for x in 0..<w2 {
                let sx = min(max((Double(x) + 0.5) / scale - 0.5, 0), Double(width - 1))
                let x0 = Int(sx), x1 = min(x0 + 1, width - 1), fx = Float(sx - Double(x0))
                let top = pixels[y0 * width + x0] * (1 - fx) + pixels[y0 * width + x1] * fx
                let bottom = pixels[y1 * width + x0] * (1 - fx) + pixels[y1 * width + x1] * fx
                out[y * w2 + x] = top * (1 - fy) + bottom * fy
            }
        }
        return (out, w2, h2)
    }
}
