/// Anything with a position in pixels and a class: detected atoms, ground-truth atoms.
public protocol ClassifiedPoint {
    /// x in pixels (origin at the top-left pixel's centre, to the right).
    var x: Double { get }
    /// y in pixels (downwards).
    var y: Double { get }
    /// Class index (as in the probability maps).
    var classIndex: Int { get }
}

/// One localized atom in one frame.
public struct Atom: Sendable, Equatable, ClassifiedPoint {
    /// Position in pixels: the probability-weighted centroid, or when `refined` its combination
    /// with the Gaussian fit weighted by their estimated errors (`AtomLocator`).
    public var x: Double
    public var y: Double
    /// The probability map (class) it was found in.
    public var classIndex: Int
    /// Mean probability of its class over its component (after splitting touching atoms).
    public var score: Float
    /// Pixels in its component.
    public var area: Int
    /// Its component touches the frame edge or its position lies within the border margin:
    /// the atom may be cut off and its position biased.
    public var border: Bool
    /// What the Gaussian refinement did.
    public var refinement: GaussianFit.Outcome
    /// The fitted Gaussian σ in pixels when refined, else nil.
    public var sigma: Double?

    /// Estimated standard error of the position per axis in pixels (the inverse-variance
    /// combination of the fit's and the centroid's errors, see `AtomLocator`); nil without refinement.
    public var positionSigma: Double?

    /// The network's class evidence: the log-probability of each map class (background last) where
    /// its class peaks next to the centroid (`ProbabilityMaps.logEvidence`); nil when not measured.
    public var classEvidence: [Float]? = nil
    /// The calibrated probability that `classIndex` is right (set by the model's `ClassProbability`); nil when unknown.
    public var classProbability: Float? = nil

    /// True when the position comes from an accepted Gaussian fit.
    public var refined: Bool { refinement == .refined }

    public init(x: Double, y: Double, classIndex: Int, score: Float, area: Int = 1, border: Bool = false,
                refinement: GaussianFit.Outcome = .notAttempted, sigma: Double? = nil, positionSigma: Double? = nil) {
        self.x = x; self.y = y; self.classIndex = classIndex; self.score = score; self.area = area
        self.border = border; self.refinement = refinement; self.sigma = sigma; self.positionSigma = positionSigma
    }
}

/// A ground-truth (or any reference) point for `evaluateDetections`.
public struct ReferencePoint: Sendable, Equatable, ClassifiedPoint {
    public var x: Double
    public var y: Double
    public var classIndex: Int
    public init(x: Double, y: Double, classIndex: Int) { self.x = x; self.y = y; self.classIndex = classIndex }
}
