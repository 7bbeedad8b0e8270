import Core
import Foundation
import Localization

/// A model card's class-probability calibration: a temperature and a background bias fitted by
/// `atomtrack calibrate` on simulated frames with truth, and what they were fitted on.
public struct ClassCalibration: Codable, Sendable, Equatable {
    /// Divides the network's class evidence (log-probabilities at the atom's peak) before the softmax.
    public var temperature: Double
    /// Added to the background's scaled evidence: shifts the balance between "an atom" and "no
    /// atom", which one temperature alone could not fit at 10⁴ and 10⁶ e/Å² together (graphene:
    /// ECE 0.058 at 10⁴ with the temperature alone, 0.03 with the bias; docs/ACCURACY.md).
    public var backgroundBias: Double
    /// Divides the contrast log-odds of the light dopant (`W+Mo` split); nil: 1 (none fitted, or
    /// the fit frames did not determine it: `TemperatureScaling.fitWithinRange`).
    public var contrastTemperature: Double?
    /// The frame term: `frameSignalCoefficient` × (the frame's `FrameSignal` − `frameSignalReference`)
    /// is added to the background bias, so a clearer frame than the fit frames' typical one gets
    /// more confident probabilities. nil (cards fitted without it): no frame term.
    public var frameSignalCoefficient: Double?
    public var frameSignalReference: Double?
    /// The frames the temperatures were fitted on (recipe, indices, doses, seed).
    public var fittedOn: String
    /// Atoms in the fit, and of them the split class's matched atoms with a contrast ratio.
    public var atoms: Int
    public var contrastAtoms: Int?
    /// Expected calibration error per dose on held-out frames, before (temperature 1) and after.
    public var heldOut: [CalibrationCheck]
    public var date: String
    public var atomtrackVersion: String

    public init(temperature: Double, backgroundBias: Double, contrastTemperature: Double?, frameSignalCoefficient: Double? = nil,
                frameSignalReference: Double? = nil, fittedOn: String, atoms: Int,
                contrastAtoms: Int?, heldOut: [CalibrationCheck], date: String, atomtrackVersion: String) {
        self.temperature = temperature; self.backgroundBias = backgroundBias; self.contrastTemperature = contrastTemperature
        self.frameSignalCoefficient = frameSignalCoefficient; self.frameSignalReference = frameSignalReference; self.fittedOn = fittedOn
        self.atoms = atoms; self.contrastAtoms = contrastAtoms; self.heldOut = heldOut
        self.date = date; self.atomtrackVersion = atomtrackVersion
    }
}

/// ECE of one held-out set (`ReliabilityBins`), uncalibrated and calibrated.
public struct CalibrationCheck: Codable, Sendable, Equatable {
    public var dataset: String
    public var dose: Double?
    public var atoms: Int
    /// Share of atoms whose reported class is right (an unmatched atom is wrong).
    public var accuracy: Double
    /// Mean class probability before and after.
    public var meanBefore: Double
    public var meanAfter: Double
    public var eceBefore: Double
    public var eceAfter: Double
    public var bins: Int
}

/// Each atom's probability that its reported class is right: the softmax of the network's class
/// evidence over a temperature, plus a bias on the background (the evidence includes the background, so a phantom atom is a
/// wrong class) that moves with the frame's signal-to-noise (`FrameSignal`), times, for a class split by Z-contrast (`W` / `Mo`), the posterior of that
/// element given the atom's contrast ratio.
public struct ClassProbability: Sendable {
    public let temperature: Double
    public let backgroundBias: Double
    public let contrastTemperature: Double
    /// The background bias's slope in the frame signal, and the signal where the bias is `backgroundBias`.
    public let frameSignal: (coefficient: Double, reference: Double)
    public let outputClasses: OutputClasses

    public init(outputClasses: OutputClasses, calibration: ClassCalibration?) {
        self.init(outputClasses: outputClasses, temperature: calibration?.temperature ?? 1,
                  backgroundBias: calibration?.backgroundBias ?? 0, contrastTemperature: calibration?.contrastTemperature ?? 1,
                  frameSignal: (calibration?.frameSignalCoefficient ?? 0, calibration?.frameSignalReference ?? 0))
    }

    public init(outputClasses: OutputClasses, temperature: Double, backgroundBias: Double = 0, contrastTemperature: Double = 1,
                frameSignal: (coefficient: Double, reference: Double) = (0, 0)) {
        self.outputClasses = outputClasses; self.temperature = temperature; self.backgroundBias = backgroundBias
        self.contrastTemperature = contrastTemperature; self.frameSignal = frameSignal
    }

    /// The background bias in a frame of signal `signal` (`FrameSignal`; nil: unmeasured, the reference's).
    public func backgroundBias(frameSignal signal: Double?) -> Double {
        backgroundBias + frameSignal.coefficient * ((signal ?? frameSignal.reference) - frameSignal.reference)
    }

    /// The model (card) class of an output class: the split-off light element is its merged class.
    public func modelClass(_ outputClass: Int) -> Int {
        guard let d = outputClasses.dopant else { return outputClass }
        return outputClass == d.lightClass ? d.mergedClass : outputClass
    }

    /// Softmax of `evidence / temperature`, `backgroundBias` added to the last (background) class.
    public static func softmax(_ evidence: [Float], temperature: Double, backgroundBias: Double = 0) -> [Double] {
        var z = evidence.map { Double($0) / temperature }
        if !z.isEmpty { z[z.count - 1] += backgroundBias }
        let top = z.max() ?? 0
        let e = z.map { exp($0 - top) }, sum = e.reduce(0, +)
        return e.map { $0 / sum }
    }

    /// Sets every atom's `classProbability` (nil where it has no evidence). `contrastLogOdds[i]`:
    /// atom i's uncalibrated light-element log-odds (`contrastLogOdds`), nil where not measured;
    /// `frameSignal`: the frame's `FrameSignal`.
    public func assign(_ atoms: inout [Atom], contrastLogOdds: [Double?], frameSignal: Double? = nil) {
        for i in atoms.indices {
            guard let e = atoms[i].classEvidence else { continue }
            atoms[i].classProbability = Float(probability(evidence: e, reportedClass: atoms[i].classIndex,
                                                          contrastLogOdds: contrastLogOdds[i], frameSignal: frameSignal))
        }
    }

    /// The probability that output class `reportedClass` is right, given the network's evidence,
    /// the frame's signal-to-noise and, for the split class, the contrast log-odds of the light element.
    public func probability(evidence: [Float], reportedClass: Int, contrastLogOdds: Double?, frameSignal signal: Double? = nil) -> Double {
        var p = Self.softmax(evidence, temperature: temperature, backgroundBias: backgroundBias(frameSignal: signal))[modelClass(reportedClass)]
        if let d = outputClasses.dopant, let l = contrastLogOdds {
            let light = 1 / (1 + exp(-l / contrastTemperature))
            p *= reportedClass == d.lightClass ? light : 1 - light
        }
        return p
    }

    /// Per atom, the log-odds that a member of the split class is the light element, from its
    /// contrast ratio r (`ContrastSplit.ratios`): two Gaussians of one spread s, at the expected
    /// light ratio and at 1, s the robust spread (1.4826 × MAD) of the frame's heavy ratios, and
    /// the prior the frame's light share (at least ½ atom, at most ½). nil for atoms not measured.
    public static func contrastLogOdds(_ ratios: [(index: Int, ratio: Double)], count: Int, split: ContrastSplit) -> [Double?] {
        var out = [Double?](repeating: nil, count: count)
        let heavy = ratios.map(\.ratio).filter { !split.isLight($0) }
        guard heavy.count >= 2 else { return out }
        let centre = Statistics.median(heavy)
        let s = max(0.01, 1.4826 * Statistics.median(heavy.map { abs($0 - centre) }))
        let n = Double(ratios.count), light = Double(ratios.count - heavy.count)
        let prior = min(0.5, max(0.5 / n, light / n))
        for (i, r) in ratios {
            let dl = (r - split.ratio) / s, dh = (r - 1) / s
            out[i] = log(prior / (1 - prior)) - 0.5 * dl * dl + 0.5 * dh * dh
        }
        return out
    }
}

/// Equal-mass reliability bins of confidences against outcomes, and the expected calibration
/// error: Σ over bins of (bin size / n) · |mean confidence − accuracy|.
public struct ReliabilityBins: Sendable {
    public struct Bin: Sendable, Equatable { public var count: Int; public var confidence: Double; public var accuracy: Double }
    public let bins: [Bin]

    /// - Parameter count: bins (≥ 1); fewer when there are fewer samples.
    public init(confidences: [Double], correct: [Bool], count: Int = 15) {
        let order = confidences.indices.sorted { confidences[$0] < confidences[$1] }
        let n = order.count, k = max(1, min(count, n))
        bins = n == 0 ? [] : (0..<k).map { b in
            let members = order[(b * n / k)..<((b + 1) * n / k)]
            let m = Double(members.count)
            return Bin(count: members.count, confidence: members.reduce(0) { $0 + confidences[$1] } / m,
                       accuracy: Double(members.filter { correct[$0] }.count) / m)
        }
    }

    public var expectedCalibrationError: Double {
        let n = Double(bins.reduce(0) { $0 + $1.count })
        return n == 0 ? 0 : bins.reduce(0) { $0 + Double($1.count) / n * abs($1.confidence - $1.accuracy) }
    }
}

/// Temperature scaling: the temperature T (0.05–20) and background bias b (−10…10) that minimize
/// the negative log-likelihood of the true classes under softmax(evidence / T + b·[background]),
/// by golden-section search on log T inside one on b (each NLL is smooth and, for these
/// one-parameter families, unimodal in practice).
public enum TemperatureScaling {
    /// - Parameters: evidence per sample (classes, background last) and its true class index;
    ///   `fitBias` false keeps b = 0; `offsets`: per sample, added to the background bias (none: 0).
    public static func fit(evidence: [[Float]], truth: [Int], fitBias: Bool = true, offsets: [Double]? = nil) -> (temperature: Double, backgroundBias: Double) {
        func nll(_ t: Double, _ b: Double) -> Double { negativeLogLikelihood(evidence, truth, temperature: t, bias: b, offsets: offsets) }
        func bestT(_ b: Double) -> Double { exp(minimize(range) { nll(exp($0), b) }) }
        guard fitBias else { return (bestT(0), 0) }
        let b = minimize(biasRange, tolerance: 1e-4) { nll(bestT($0), $0) }
        return (bestT(b), b)
    }

    /// T, b and the frame term γ of softmax(evidence / T + (b + γ·(s − reference))·[background]), s the
    /// sample's frame signal and `reference` their mean: alternating the (T, b) fit above with a
    /// golden-section search on γ (−20…20) until γ moves by < 10⁻³ (at most 12 rounds; the NLL is
    /// smooth, and with s centred b and γ hardly trade off).
    public static func fit(evidence: [[Float]], truth: [Int], frameSignal: [Double])
        -> (temperature: Double, backgroundBias: Double, coefficient: Double, reference: Double) {
        let reference = frameSignal.reduce(0, +) / Double(max(1, frameSignal.count))
        let centred = frameSignal.map { $0 - reference }
        var (t, b) = fit(evidence: evidence, truth: truth), g = 0.0
        for _ in 0..<12 {
            let previous = g
            g = minimize((-20, 20), tolerance: 1e-4) { g in
                negativeLogLikelihood(evidence, truth, temperature: t, bias: b, offsets: centred.map { g * $0 })
            }
            (t, b) = fit(evidence: evidence, truth: truth, offsets: centred.map { g * $0 })
            if abs(g - previous) < 1e-3 { break }
        }
        return (t, b, g, reference)
    }

    /// −Σ log softmax(evidence / t + (b + offset)·[background])[truth], each term capped at −log 10⁻³⁰⁰
    /// (the softmax written out: no array per sample, as the fits evaluate it ~10⁴ times).
    static func negativeLogLikelihood(_ evidence: [[Float]], _ truth: [Int], temperature t: Double, bias b: Double, offsets: [Double]?) -> Double {
        var sum = 0.0
        for i in evidence.indices {
            let e = evidence[i], last = e.count - 1, bias = b + (offsets?[i] ?? 0)
            func z(_ k: Int) -> Double { Double(e[k]) / t + (k == last ? bias : 0) }
            var top = -Double.infinity
            for k in 0...last { top = max(top, z(k)) }
            var total = 0.0
            for k in 0...last { total += exp(z(k) - top) }
            sum -= max(z(truth[i]) - top - log(total), log(1e-300))
        }
        return sum
    }

    /// The temperature of binary log-odds: minimizes the NLL of `outcome` under σ(logOdds / T).
    public static func fit(logOdds: [Double], outcome: [Bool]) -> Double {
        exp(minimize(range) { logT in
            zip(logOdds, outcome).reduce(0) { acc, s in
                let z = (s.1 ? 1 : -1) * s.0 / exp(logT)   // −log σ(z), stable for both signs
                return acc + (z > 0 ? log1p(exp(-z)) : -z + log1p(exp(z)))
            }
        })
    }

    /// `fit(logOdds:outcome:)`, or nil when the data do not determine T (`determined`).
    public static func fitWithinRange(logOdds: [Double], outcome: [Bool]) -> Double? {
        determined(fit(logOdds: logOdds, outcome: outcome))
    }

    /// `t`, or nil when it is at the edge of 0.05–20: the likelihood kept rising towards the edge
    /// (e.g. no sample on the wrong side of its evidence: it rises without end as T → 0).
    public static func determined(_ t: Double) -> Double? {
        abs(log(t) - range.0) < 1e-3 || abs(log(t) - range.1) < 1e-3 ? nil : t
    }

    static let range = (log(0.05), log(20.0)), biasRange = (-10.0, 10.0)

    /// The minimum of `f` on [range.0, range.1] by golden-section search.
    static func minimize(_ range: (Double, Double), tolerance: Double = 1e-6, _ f: (Double) -> Double) -> Double {
        var (a, b) = range
        let g = (5.0.squareRoot() - 1) / 2
        var c = b - g * (b - a), d = a + g * (b - a)
        var fc = f(c), fd = f(d)
        while b - a > tolerance {
            if fc < fd { b = d; d = c; fd = fc; c = b - g * (b - a); fc = f(c) }
            else { a = c; c = d; fc = fd; d = a + g * (b - a); fd = f(d) }
        }
        return (a + b) / 2
    }
}
