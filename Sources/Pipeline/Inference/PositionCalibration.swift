import Core
import Foundation
import Localization

/// A model card's position-error calibration: per output class and position kind, the power law
/// σ = e^logScale · σ_raw^exponent that maps the locator's own standard error σ_raw (`Atom.positionSigma`,
/// from the fit's residuals and the centroid spread) to one whose normalized errors have unit
/// variance, fitted by `atomtrack calibrate` on simulated frames with truth.
///
/// Why a power law and not a scale: the raw σ is too small by a factor that grows with the noise
/// (W on simulated WS2 frames: variance of error/σ 2.65 / 1.50 / 0.91 at 10⁴ / 10⁵ / 10⁶ e/Å²), since
/// the network's centroid and the fit err together; a scale would fit one dose only. σ_raw itself
/// is measured from the frame, so the law needs no dose.
public struct PositionCalibration: Codable, Sendable, Equatable {
    public var laws: [PositionSigmaLaw]
    /// The frames the laws were fitted on (recipe, items, doses, distortions turned off).
    public var fittedOn: String
    public var atoms: Int
    /// Variance of error/σ per axis on held-out frames, per class and dose, before and after.
    public var heldOut: [PositionCheck]
    public var date: String
    public var atomtrackVersion: String

    public init(laws: [PositionSigmaLaw], fittedOn: String, atoms: Int, heldOut: [PositionCheck], date: String, atomtrackVersion: String) {
        self.laws = laws; self.fittedOn = fittedOn; self.atoms = atoms; self.heldOut = heldOut
        self.date = date; self.atomtrackVersion = atomtrackVersion
    }
}

/// How an atom's position was made, which sets how its raw σ errs.
public enum PositionKind: String, Codable, Sendable, CaseIterable {
    /// Weighed with an accepted Gaussian fit (`Atom.sigma` set).
    case fit
    /// The centroid alone because its class's fits did not help in this frame (the fit converged,
    /// `refinement` is `refined`, but every atom of the class keeps its centroid).
    case centroid
    /// The centroid alone because its own fit was rejected (did not converge, implausible, moved
    /// too far): where its class's other atoms were fitted, often an atom at a defect or an edge,
    /// whose error is larger than the class's centroid spread says (graphene C at 10⁶ e/Å²: variance
    /// of error/σ 3–6 under the `centroid` law, docs/ACCURACY.md). Cards without a `rejected` law
    /// use the `centroid` one, as before this kind existed.
    case rejected
    /// All kinds pooled: the fallback where one kind had too few atoms.
    case any

    public init(of atom: Atom) {
        self = atom.sigma != nil ? .fit : atom.refinement == .refined ? .centroid : .rejected
    }

    /// The kinds whose laws stand in for this one, in order (a `rejected` atom takes the `centroid` law
    /// where it has none of its own).
    var fallbacks: [PositionKind] { self == .rejected ? [.rejected, .centroid] : [self] }
}

/// What a law's frame term measures, from the frame itself (never a dose it claims).
public enum PositionFrameFeature: String, Codable, Sendable {
    /// log(median σ_raw / column spacing) over the frame's `fit` atoms of the atom's class
    /// (`PositionSigma.classSigmaFeatures`): how noisy that class's fits are in this frame.
    case classSigma
    /// The frame's signal-to-noise (`FrameSignal`).
    case frameSignal
}

/// log σ = logScale + exponent · log σ_raw + frameCoefficient · g + frameCurvature · g²
///         + probabilityCoefficient · (q − probabilityReference)
/// for the atoms of one output class and kind, where g = f − frameReference, f the frame's
/// `frameFeature` held inside `frameRange` (the fit frames' range: beyond it the law stays as at its
/// edge rather than extrapolating a curve), and q = log(1 − class_prob) (≥ log 10⁻⁴), the atom's own
/// doubt about its class. Cards before these terms (none set) keep σ = e^logScale · σ_raw^exponent.
///
/// Why: σ_raw alone does not carry the frame's noise level (the network's centroid error and the
/// fit's error scale differently with dose), so a law of σ_raw alone over-covers at high dose and
/// under-covers at low dose (graphene C held out: variance of error/σ 1.47 / 0.58 / 0.43 at
/// 10⁴ / 10⁵ / 10⁶ e/Å²), and the error ratio to σ_raw changes steeply at low signal, then flattens
/// (graphene C fits: error²/σ_raw² ≈ 12 at 10⁴, 3 at 10⁵, 2 at 10⁶), hence the curvature. An atom
/// the network doubts is more often a misplaced one (docs/ACCURACY.md, "issue #18, position σ, session 10").
public struct PositionSigmaLaw: Codable, Sendable, Equatable {
    /// Output class name (`W`, `Mo`, `S`, `C`, `Si`), or `*` for all classes pooled.
    public var outputClass: String
    public var kind: PositionKind
    public var logScale: Double
    public var exponent: Double
    /// Matched atoms it was fitted on.
    public var atoms: Int
    /// The frame term; nil on older cards.
    public var frameFeature: PositionFrameFeature? = nil
    public var frameCoefficient: Double? = nil
    public var frameCurvature: Double? = nil
    public var frameReference: Double? = nil
    /// [low, high]: f is held inside it.
    public var frameRange: [Double]? = nil
    /// The class-probability term; nil on older cards.
    public var probabilityCoefficient: Double? = nil
    public var probabilityReference: Double? = nil

    public init(outputClass: String, kind: PositionKind, logScale: Double, exponent: Double, atoms: Int) {
        self.outputClass = outputClass; self.kind = kind; self.logScale = logScale; self.exponent = exponent; self.atoms = atoms
    }

    /// q = log(1 − p), the class-probability term's variable (nil for an unknown p).
    public static func doubt(_ classProbability: Float?) -> Double? {
        classProbability.map { log(max(1e-4, 1 - Double($0))) }
    }

    /// The frame feature as the law uses it: inside `frameRange`, relative to the reference (nil: unmeasured).
    func frameOffset(_ frame: Double?) -> Double? {
        guard let r = frameReference, let f = frame, f.isFinite else { return nil }
        guard let range = frameRange, range.count == 2 else { return f - r }
        return min(max(f, range[0]), range[1]) - r
    }

    /// The calibrated σ; `frame`: the frame's value of `frameFeature`, `classProbability` the atom's
    /// (either nil: unmeasured, its term taken at the reference, i.e. 0).
    public func sigma(raw: Double, frame: Double? = nil, classProbability: Float? = nil) -> Double {
        var s = logScale + exponent * log(raw)
        if let g = frameOffset(frame) { s += (frameCoefficient ?? 0) * g + (frameCurvature ?? 0) * g * g }
        if let c = probabilityCoefficient, let r = probabilityReference, let q = Self.doubt(classProbability) { s += c * (q - r) }
        return exp(s)
    }

    /// One matched atom: raw σ (> 0), squared error distance r² = dx² + dy², the frame's feature,
    /// the atom's class probability.
    public typealias Sample = (raw: Double, r2: Double, frame: Double?, probability: Float?)

    /// The terms a fit includes besides a + b·log σ_raw.
    public struct Terms: Sendable, Equatable {
        public var feature: PositionFrameFeature?
        public var curvature: Bool
        public var probability: Bool
        public init(feature: PositionFrameFeature? = nil, curvature: Bool = false, probability: Bool = false) {
            self.feature = feature; self.curvature = curvature && feature != nil; self.probability = probability
        }
    }

    /// The law of maximum likelihood for 2-D errors (dx, dy) ~ N(0, σ²·I) with log σ = θ·x,
    /// x = (1, log σ_raw, g, g², q − q̄) as `terms` ask: Newton's method on θ (the negative
    /// log-likelihood Σ 2s + r²/(2e^{2s}), s = θ·x, is convex in θ: its Hessian is Σ 2r²e^{−2s} x xᵀ).
    /// Its stationarity in a makes the mean of r²/σ² exactly 2, i.e. the normalized errors have unit
    /// variance per axis on the fit data. A tiny ridge pulls b to 1 and the other terms to 0 where
    /// the data do not determine them. The references are the samples' means, the frame range their
    /// 0.5–99.5 % quantiles; a sample without a feature or probability takes the reference.
    public static func fit(_ samples: [Sample], outputClass: String, kind: PositionKind, terms: Terms = .init()) -> PositionSigmaLaw? {
        let data = samples.filter { $0.raw > 0 && $0.raw.isFinite && $0.r2.isFinite }
        guard data.count >= 2, data.contains(where: { $0.r2 > 0 }) else { return nil }
        var law = PositionSigmaLaw(outputClass: outputClass, kind: kind, logScale: 0, exponent: 1, atoms: data.count)
        let features = terms.feature == nil ? [] : data.compactMap { $0.frame.flatMap { $0.isFinite ? $0 : nil } }
        if !features.isEmpty {
            law.frameFeature = terms.feature
            law.frameRange = [Statistics.quantile(features, 0.005), Statistics.quantile(features, 0.995)]
            law.frameReference = features.reduce(0, +) / Double(features.count)
        }
        let doubts = terms.probability ? data.compactMap { Self.doubt($0.probability) } : []
        if !doubts.isEmpty { law.probabilityReference = doubts.reduce(0, +) / Double(doubts.count) }
        let rows = data.map { d -> [Double] in
            var x = [1, log(d.raw)]
            if law.frameFeature != nil {
                let g = law.frameOffset(d.frame) ?? 0
                x.append(g)
                if terms.curvature { x.append(g * g) }
            }
            if let r = law.probabilityReference { x.append(Self.doubt(d.probability).map { $0 - r } ?? 0) }
            return x
        }
        let theta = newton(rows, data.map(\.r2))
        law.logScale = theta[0]; law.exponent = theta[1]
        var k = 2
        if law.frameFeature != nil {
            law.frameCoefficient = theta[k]; k += 1
            if terms.curvature { law.frameCurvature = theta[k]; k += 1 }
        }
        if law.probabilityReference != nil { law.probabilityCoefficient = theta[k] }
        return law
    }

    /// θ minimizing Σ 2s + r²/(2e^{2s}), s = θ·x, plus the ridge 10⁻³·n·Σ_{j≥1}(θ_j − prior_j)²
    /// (prior: b = 1, the rest 0), from the best scale at b = 1.
    static func newton(_ rows: [[Double]], _ r2: [Double]) -> [Double] {
        let n = rows[0].count, ridge = 1e-3 * Double(rows.count)
        var prior = [Double](repeating: 0, count: n)
        prior[1] = 1
        func dot(_ u: [Double], _ v: [Double]) -> Double {
            var total = 0.0
            for i in u.indices { total += u[i] * v[i] }
            return total
        }
        func nll(_ t: [Double]) -> Double {
            var total = 0.0
            for i in 1..<n { total += ridge * (t[i] - prior[i]) * (t[i] - prior[i]) }
            for (x, e) in zip(rows, r2) {
                let s = dot(t, x)
                total += 2 * s + e / 2 * exp(-2 * s)
            }
            return total
        }
        // e^{2a} = mean(r²/σ_raw²)/2 at b = 1.
        var meanRatio = 0.0
        for (x, e) in zip(rows, r2) { meanRatio += e * exp(-2 * x[1]) }
        var theta = prior
        theta[0] = 0.5 * log(max(1e-300, meanRatio / (2 * Double(rows.count))))
        var current = nll(theta)
        for _ in 0..<100 {
            // Gradient Σ (2 − w)·x and Hessian Σ 2w·x xᵀ, w = r²e^{−2s}, plus the ridge's.
            var g = [Double](repeating: 0, count: n), h = [[Double]](repeating: g, count: n)
            for i in 1..<n { g[i] = 2 * ridge * (theta[i] - prior[i]); h[i][i] = 2 * ridge }
            for (x, e) in zip(rows, r2) {
                let w = e * exp(-2 * dot(theta, x))
                for i in 0..<n {
                    g[i] += (2 - w) * x[i]
                    for j in 0..<n { h[i][j] += 2 * w * x[i] * x[j] }
                }
            }
            guard var step = solve(h, g.map { -$0 }) else { break }
            func moved() -> [Double] { zip(theta, step).map { $0 + $1 } }
            var next = nll(moved())
            while next > current && step.reduce(0.0, { $0 + abs($1) }) > 1e-12 {
                step = step.map { $0 / 2 }
                next = nll(moved())
            }
            guard next <= current else { break }
            theta = moved()
            let converged = current - next < 1e-12 * max(1, abs(current))
            current = next
            if converged { break }
        }
        return theta
    }

    /// x with h·x = g for a small positive definite h (Gaussian elimination with partial pivoting); nil if singular.
    static func solve(_ h: [[Double]], _ g: [Double]) -> [Double]? {
        let n = g.count
        var m = h.indices.map { h[$0] + [g[$0]] }
        for k in 0..<n {
            guard let p = (k..<n).max(by: { abs(m[$0][k]) < abs(m[$1][k]) }), abs(m[p][k]) > 1e-300 else { return nil }
            m.swapAt(k, p)
            for i in (k + 1)..<n {
                let f = m[i][k] / m[k][k]
                for j in k...n { m[i][j] -= f * m[k][j] }
            }
        }
        var x = [Double](repeating: 0, count: n)
        for k in stride(from: n - 1, through: 0, by: -1) {
            x[k] = (m[k][n] - ((k + 1)..<n).reduce(0) { $0 + m[k][$1] * x[$1] }) / m[k][k]
        }
        return x
    }
}

/// Variance of error/σ per axis of one class at one dose, with the raw σ and the calibrated one.
public struct PositionCheck: Codable, Sendable, Equatable {
    public var outputClass: String
    public var dose: Double?
    public var atoms: Int
    public var varianceBefore: Double
    public var varianceAfter: Double
    /// Error RMSE per axis (px), for scale.
    public var rmse: Double

    public init(outputClass: String, dose: Double?, atoms: Int, varianceBefore: Double, varianceAfter: Double, rmse: Double) {
        self.outputClass = outputClass; self.dose = dose; self.atoms = atoms
        self.varianceBefore = varianceBefore; self.varianceAfter = varianceAfter; self.rmse = rmse
    }
}

/// Applies a card's position calibration to atoms: each atom's `positionSigma` through the law of
/// its class and kind, else of its class (kinds pooled), else of its kind (all classes), else as is
/// (a `rejected` atom trying the `centroid` law after its own at each step).
public struct PositionSigma: Sendable {
    public let calibration: PositionCalibration?
    let names: [String]

    public init(outputClasses: OutputClasses, calibration: PositionCalibration?) {
        self.calibration = calibration; names = outputClasses.symbols
    }

    public func law(outputClass: String, kind: PositionKind) -> PositionSigmaLaw? {
        guard let laws = calibration?.laws else { return nil }
        let order = kind.fallbacks.map { (outputClass, $0) } + [(outputClass, PositionKind.any)] + kind.fallbacks.map { ("*", $0) }
        for (c, k) in order {
            if let l = laws.first(where: { $0.outputClass == c && $0.kind == k }) { return l }
        }
        return nil
    }

    /// What the frame terms see of one frame.
    public struct FrameFeatures: Sendable, Equatable {
        /// The frame's `FrameSignal`.
        public var frameSignal: Double?
        /// Per output class, `classSigmaFeatures`.
        public var classSigma: [Int: Double]
        public init(frameSignal: Double? = nil, classSigma: [Int: Double] = [:]) { self.frameSignal = frameSignal; self.classSigma = classSigma }

        public func value(_ feature: PositionFrameFeature?, outputClass: Int) -> Double? {
            switch feature {
            case .classSigma: return classSigma[outputClass]
            case .frameSignal: return frameSignal
            case nil: return nil
            }
        }
    }

    /// Per output class, log(median σ_raw / column spacing) over the frame's atoms of the `fit` kind
    /// with a raw σ (both in frame pixels, so the ratio does not depend on resampling).
    public static func classSigmaFeatures(_ atoms: [Atom], columnSpacingPixels: Double) -> [Int: Double] {
        guard columnSpacingPixels > 0 else { return [:] }
        var raws: [Int: [Double]] = [:]
        for a in atoms where PositionKind(of: a) == .fit {
            if let r = a.positionSigma, r > 0, r.isFinite { raws[a.classIndex, default: []].append(r) }
        }
        return raws.mapValues { log(Statistics.median($0) / columnSpacingPixels) }
    }

    /// The calibrated σ of an atom whose raw σ is `raw` and class probability `classProbability` (raw where no law applies).
    public func sigma(raw: Double, outputClass: Int, kind: PositionKind, features: FrameFeatures = .init(), classProbability: Float? = nil) -> Double {
        guard names.indices.contains(outputClass), let l = law(outputClass: names[outputClass], kind: kind) else { return raw }
        return l.sigma(raw: raw, frame: features.value(l.frameFeature, outputClass: outputClass), classProbability: classProbability)
    }

    /// Calibrates every atom's `positionSigma` (frame pixels). `workingScale`: the network's pixels
    /// per frame pixel when the frame was resampled, where the laws apply (they are not scale-free);
    /// `frameSignal` and `columnSpacingPixels` (frame pixels): for the laws' frame terms.
    public func apply(_ atoms: inout [Atom], workingScale: Double = 1, frameSignal: Double? = nil, columnSpacingPixels: Double = 0) {
        guard calibration != nil else { return }
        let features = FrameFeatures(frameSignal: frameSignal,
                                     classSigma: Self.classSigmaFeatures(atoms, columnSpacingPixels: columnSpacingPixels))
        for i in atoms.indices {
            guard let raw = atoms[i].positionSigma, raw > 0, raw.isFinite else { continue }
            atoms[i].positionSigma = sigma(raw: raw * workingScale, outputClass: atoms[i].classIndex, kind: PositionKind(of: atoms[i]),
                                           features: features, classProbability: atoms[i].classProbability) / workingScale
        }
    }
}
