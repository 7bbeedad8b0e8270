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
    /// The centroid alone (no fit, a rejected fit, or fits that did not help its class).
    case centroid
    /// Both kinds pooled: the fallback where one kind had too few atoms.
    case any

    public init(of atom: Atom) { self = atom.sigma != nil ? .fit : .centroid }
}

/// σ = e^logScale · σ_raw^exponent for the atoms of one output class and kind.
public struct PositionSigmaLaw: Codable, Sendable, Equatable {
    /// Output class name (`W`, `Mo`, `S`, `C`, `Si`), or `*` for all classes pooled.
    public var outputClass: String
    public var kind: PositionKind
    public var logScale: Double
    public var exponent: Double
    /// Matched atoms it was fitted on.
    public var atoms: Int

    public init(outputClass: String, kind: PositionKind, logScale: Double, exponent: Double, atoms: Int) {
        self.outputClass = outputClass; self.kind = kind; self.logScale = logScale; self.exponent = exponent; self.atoms = atoms
    }

    public func sigma(raw: Double) -> Double { exp(logScale + exponent * log(raw)) }

    /// The law of maximum likelihood for 2-D errors (dx, dy) ~ N(0, σ²·I) with σ = e^a · σ_raw^b:
    /// Newton's method on (a, b) (the negative log-likelihood Σ 2s + r²/(2e^{2s}), s = a + b·log σ_raw,
    /// is convex in (a, b)). Its stationarity in a makes the mean of r²/σ² exactly 2, i.e. the
    /// normalized errors have unit variance per axis on the fit data. A tiny ridge pulls b to 1
    /// when the raw σ hardly varies (b is then not determined).
    /// - Parameter samples: raw σ (> 0) and the squared error distance r² = dx² + dy² per atom.
    public static func fit(_ samples: [(raw: Double, r2: Double)], outputClass: String, kind: PositionKind) -> PositionSigmaLaw? {
        let data = samples.filter { $0.raw > 0 && $0.raw.isFinite && $0.r2.isFinite }
        guard data.count >= 2, data.contains(where: { $0.r2 > 0 }) else { return nil }
        let ridge = 1e-3 * Double(data.count)
        func nll(_ a: Double, _ b: Double) -> Double {
            data.reduce(ridge * (b - 1) * (b - 1)) { acc, d in
                let s = a + b * log(d.raw)
                return acc + 2 * s + d.r2 / 2 * exp(-2 * s)
            }
        }
        // Start from the best scale at b = 1: e^{2a} = mean(r²/σ_raw²)/2.
        var a = 0.5 * log(max(1e-300, data.reduce(0) { $0 + $1.r2 / ($1.raw * $1.raw) } / (2 * Double(data.count)))), b = 1.0
        var current = nll(a, b)
        for _ in 0..<100 {
            var ga = 0.0, gb = 2 * ridge * (b - 1), haa = 0.0, hab = 0.0, hbb = 2 * ridge
            for d in data {
                let u = log(d.raw), w = d.r2 * exp(-2 * (a + b * u))
                ga += 2 - w; gb += (2 - w) * u
                haa += 2 * w; hab += 2 * w * u; hbb += 2 * w * u * u
            }
            let det = haa * hbb - hab * hab
            guard det > 0 else { break }
            var da = -(hbb * ga - hab * gb) / det, db = -(haa * gb - hab * ga) / det
            var next = nll(a + da, b + db)
            while next > current && abs(da) + abs(db) > 1e-12 { da /= 2; db /= 2; next = nll(a + da, b + db) }
            guard next <= current else { break }
            a += da; b += db
            let converged = current - next < 1e-12 * max(1, abs(current))
            current = next
            if converged { break }
        }
        return PositionSigmaLaw(outputClass: outputClass, kind: kind, logScale: a, exponent: b, atoms: data.count)
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
/// its class and kind, else of its class (both kinds), else of its kind (all classes), else as is.
public struct PositionSigma: Sendable {
    public let calibration: PositionCalibration?
    let names: [String]

    public init(outputClasses: OutputClasses, calibration: PositionCalibration?) {
        self.calibration = calibration; names = outputClasses.symbols
    }

    public func law(outputClass: String, kind: PositionKind) -> PositionSigmaLaw? {
        guard let laws = calibration?.laws else { return nil }
        for (c, k) in [(outputClass, kind), (outputClass, .any), ("*", kind)] {
            if let l = laws.first(where: { $0.outputClass == c && $0.kind == k }) { return l }
        }
        return nil
    }

    /// The calibrated σ of an atom whose raw σ is `raw` (raw where no law applies).
    public func sigma(raw: Double, outputClass: Int, kind: PositionKind) -> Double {
        guard names.indices.contains(outputClass), let l = law(outputClass: names[outputClass], kind: kind) else { return raw }
        return l.sigma(raw: raw)
    }

    /// Calibrates every atom's `positionSigma` (frame pixels). `workingScale`: the network's pixels
    /// per frame pixel when the frame was resampled, where the laws apply (they are not scale-free).
    public func apply(_ atoms: inout [Atom], workingScale: Double = 1) {
        guard calibration != nil else { return }
        for i in atoms.indices {
            guard let raw = atoms[i].positionSigma, raw > 0, raw.isFinite else { continue }
            atoms[i].positionSigma = sigma(raw: raw * workingScale, outputClass: atoms[i].classIndex, kind: PositionKind(of: atoms[i])) / workingScale
        }
    }
}
