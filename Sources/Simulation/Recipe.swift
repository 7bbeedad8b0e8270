import Core
import Foundation

/// A recipe: everything that makes a training set or a movie, reproducibly from its seed.
/// Stored as small JSON files in TrainingData/. Missing optional sections take their defaults.
public struct Recipe: Codable, Sendable, Equatable {
    public var name: String
    public var seed: UInt64
    /// Lattice name: graphene, hBN, MoS2, WS2, MoSe2, WSe2.
    public var lattice: String
    /// Frame size in pixels.
    public var width: Int
    public var height: Int
    /// Pixel size range (Å) [min, max]; drawn uniformly per image.
    public var pixelSize: [Double]
    /// Dose range (e/Å²) [min, max], drawn log-uniformly; absent means noiseless frames.
    public var dose: [Double]?
    /// Low-dose weighting: the dose's fraction t of the log range is drawn as u^doseBias (u uniform),
    /// so P(t < f) = f^(1/doseBias). 1 (default) is log-uniform; 2 puts half the frames in the
    /// lowest quarter of the log range (10⁴–10^4.5 for [10⁴, 10⁶]).
    public var doseBias: Double?
    /// A fraction of the training items are frames without a lattice, labelled all background.
    public var negatives: Negatives?
    public var microscope: Microscope
    /// Relative spread of defocus (Å, ±) and source size (Å, 0…) drawn per training image.
    public var defocusSpread: Double?
    public var sourceSizeRange: [Double]?
    /// Range of the Z-contrast exponent n drawn uniformly per training image (HAADF: n ≈ 1.6–2).
    public var zExponentRange: [Double]?
    public var defects: [DefectSpec]
    public var distortions: Distortions?
    /// Label classes: each entry lists the element symbols drawn in that class; background is last.
    public var classes: [LabelClass]?
    /// Label disc radius (Å); at least one pixel.
    public var labelRadius: Double?
    public var augmentation: Augmentation?
    public var movie: MovieSpec?

    /// A recipe in code; optional sections default to off.
    public init(name: String, seed: UInt64, lattice: String, width: Int, height: Int, pixelSize: [Double],
                dose: [Double]? = nil, microscope: Microscope = Microscope(), defects: [DefectSpec] = [],
                distortions: Distortions? = nil, classes: [LabelClass]? = nil, labelRadius: Double? = nil,
                augmentation: Augmentation? = nil, movie: MovieSpec? = nil) {
        self.name = name; self.seed = seed; self.lattice = lattice; self.width = width; self.height = height
        self.pixelSize = pixelSize; self.dose = dose; self.microscope = microscope; self.defects = defects
        self.distortions = distortions; self.classes = classes; self.labelRadius = labelRadius
        self.augmentation = augmentation; self.movie = movie
    }

    /// The recipe as pretty, key-sorted JSON (deterministic).
    public func encoded() throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try e.encode(self)
    }

    /// Decodes and validates a recipe from JSON.
    public static func decode(_ data: Data) throws -> Recipe {
        let r: Recipe
        do { r = try JSONDecoder().decode(Recipe.self, from: data) } catch {
            throw SimulationError.invalidRecipe("cannot decode JSON (\(error))")
        }
        try r.validate()
        return r
    }

    /// Checks ranges and names; throws a one-line error for the first problem found.
    public func validate() throws {
        _ = try Lattice.named(lattice)
        try microscope.validate()
        guard width >= 8, height >= 8, width <= 8192, height <= 8192 else {
            throw SimulationError.invalidRecipe("frame size \(width)×\(height) must be 8…8192 pixels")
        }
        guard pixelSize.count == 2, pixelSize[0] > 0, pixelSize[1] >= pixelSize[0] else {
            throw SimulationError.invalidRecipe("pixelSize must be [min, max] with 0 < min ≤ max (Å)")
        }
        if let d = dose, d.count != 2 || !(d[0] > 0) || !(d[1] >= d[0] && d[1] <= MovieSpec.maxDose) {
            throw SimulationError.invalidRecipe("dose must be [min, max] with 0 < min ≤ max ≤ 10⁹ (e/Å²)")
        }
        for d in defects where (d.density ?? 0) < 0 || (d.kind != .vacancy && d.kind != .divacancy && d.kind != .columnVacancy && atomicNumbers[d.element ?? ""] == nil) {
            throw SimulationError.invalidRecipe("defect '\(d.label)': negative density or unknown element '\(d.element ?? "")'")
        }
        if let b = doseBias, !(b.isFinite && b >= 0.1 && b <= 10) {
            throw SimulationError.invalidRecipe("doseBias must be 0.1–10 (1 = log-uniform, > 1 favours low doses)")
        }
        try negatives?.validate()
        if let r = labelRadius, !(r > 0) { throw SimulationError.invalidRecipe("labelRadius must be > 0 Å") }
        if let c = classes, c.count > 254 { throw SimulationError.invalidRecipe("at most 254 label classes") }
        if let m = movie { try m.validate() }
    }
}

extension Recipe {
    /// A dose (e/Å²) from the recipe's range and `doseBias`; nil for noiseless frames. One draw
    /// from `rng` whatever the bias, so the rest of a frame's stream does not depend on it.
    public func drawDose(rng: inout SeededGenerator) -> Double? {
        guard let range = dose else { return nil }
        let t = pow(rng.uniform(), doseBias ?? 1)
        return exp(log(range[0]) + t * (log(range[1]) - log(range[0])))
    }
}

/// A label class: its name and the element symbols of the columns drawn in it.
public struct LabelClass: Codable, Sendable, Equatable {
    public var name: String
    public var elements: [String]
    /// Smallest number of atoms in the column for it to be labelled (default 1).
    public var minCount: Int?
    public init(name: String, elements: [String], minCount: Int? = nil) {
        self.name = name; self.elements = elements; self.minCount = minCount
    }
}

/// Specimen and scan imperfections (all optional, default off).
public struct Distortions: Codable, Sendable, Equatable {
    /// Random scan rotation over the full circle.
    public var randomRotation: Bool?
    /// Homogeneous strain, maximum |ε| per component.
    public var strain: Double?
    /// Random displacement of every column (Å rms per axis).
    public var thermalJitter: Double?
    /// Scan-line jitter (pixels rms).
    public var scanJitter: Double?
    /// Flyback lag at the start of each line (pixels) and its decay length (pixels).
    public var flybackAmplitude: Double?
    public var flybackLength: Double?
    /// Contamination background, maximum mean level relative to the lattice signal.
    public var contamination: Double?
    /// Gaussian read noise (counts rms).
    public var readNoise: Double?
    public init() {}
}

/// On-the-fly augmentation of training pairs (applied after rendering and shot noise).
public struct Augmentation: Codable, Sendable, Equatable {
    /// Flips and the four 90° rotations (each drawn with probability 1/4).
    public var flipsAndRotations: Bool?
    /// Gaussian blur σ range (pixels) and probability.
    public var blur: [Double]?
    public var blurProbability: Double?
    /// Gamma range [min, max] and contrast (multiplicative stretch around the mean) range.
    public var gamma: [Double]?
    public var contrast: [Double]?
    /// Additive Gaussian noise σ range (after normalisation to [0, 1]).
    public var gaussianNoise: [Double]?
    /// Salt-and-pepper fraction range.
    public var saltAndPepper: [Double]?
    /// Zoom: crop a window 1/z of the frame and resize it back (bilinear image, nearest mask), z in range.
    public var zoom: [Double]?
    /// Linear background gradient amplitude (fraction of the [0, 1] range).
    public var gradient: Double?
    public init() {}
}
