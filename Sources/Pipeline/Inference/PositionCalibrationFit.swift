import Core
import Foundation
import Localization
import MicroscopyIO
import Simulation

/// Fits a model's position-error calibration (`PositionCalibration`) on simulated frames of a
/// training recipe with truth, the same items as `ClassCalibrationFit` (fit 2^41 + …, held out
/// 2^42 + …) but drawn without scan jitter and flyback: their line shifts move a column's apparent
/// centre away from the truth by ≈ 0.1 px at any dose (docs/ACCURACY.md), a scan error that the
/// photon-noise σ does not describe and that would swamp it at high dose.
///
/// Per output class and position kind (`PositionKind`), the law σ = e^a · σ_raw^b of maximum
/// likelihood over the atoms matched to a truth column of their own class; a class or kind with
/// fewer than `minimumAtoms` atoms takes the pooled law (`PositionSigma.law`).
public struct PositionCalibrationFit {
    public let rawFinder: AtomFinder
    public let recipe: Recipe
    public let options: ClassCalibrationFit.Options
    /// Fewer atoms give erratic laws (WS2's 189 W `centroid` atoms: exponent −1.4, σ falling as σ_raw grows).
    public var minimumAtoms = 200
    let frames: CalibrationFrames

    /// - Parameter finder: its model's `positionCalibration` is set aside: the laws map the locator's raw σ.
    public init(finder: AtomFinder, recipe: Recipe, options: ClassCalibrationFit.Options = .init()) throws {
        try options.validate()
        var card = finder.model.card
        card.positionCalibration = nil
        rawFinder = try AtomFinder(model: TrainedModel(directory: finder.model.directory, card: card, network: finder.model.network),
                                   options: finder.options)
        var r = recipe
        r.distortions?.scanJitter = 0
        r.distortions?.flybackAmplitude = 0
        self.recipe = r; self.options = options
        frames = CalibrationFrames(finder: rawFinder, recipe: r)
    }

    /// The frame features a law may take (`PositionFrameFeature`); per law the one whose law comes
    /// closest to unit variance at every dose of the fit frames (`laws`). On the recipe frames a
    /// graphene C fit's error follows the frame's signal-to-noise, a WS2 fit's its class's median raw σ.
    public var candidateFeatures: [PositionFrameFeature] = [.classSigma, .frameSignal]
    /// The terms besides the frame feature (`PositionSigmaLaw.Terms`).
    public var curvature = true, probability = true

    /// One matched atom: what the laws are fitted on, and for `--samples` what else might explain its error.
    struct Sample {
        var outputClass: String; var kind: PositionKind; var raw: Double; var dx: Double; var dy: Double
        var dose: Double; var item: Int; var heldOut: Bool
        var frameSignal: Double?; var classSigma: Double?
        var score: Float; var classProbability: Float?; var fitSigma: Double?; var spacing: Double
        var r2: Double { dx * dx + dy * dy }

        func feature(_ f: PositionFrameFeature?) -> Double? {
            switch f {
            case .classSigma: return classSigma
            case .frameSignal: return frameSignal
            case nil: return nil
            }
        }
    }

    /// - Parameter samplesFile: where to write every matched sample (fit and held out) as CSV, before
    ///   the laws are fitted, for comparing laws offline (scripts/position_sigma_laws.py).
    public func run(progress: Bool = false, samplesFile: URL? = nil) throws -> PositionCalibration {
        let bar = ProgressBar("calibrate σ", total: 2 * options.framesPerDose * options.doses.count, quiet: !progress)
        defer { bar.finish() }
        let fit = try options.doses.indices.flatMap { try samples(dose: $0, offset: ClassCalibrationFit.fitOffset, bar: bar) }
        let held = try options.doses.indices.map { try samples(dose: $0, offset: ClassCalibrationFit.heldOutOffset, bar: bar) }
        if let samplesFile { try Self.writeCSV(fit + held.joined(), to: samplesFile) }
        let laws = Self.laws(fit, minimumAtoms: minimumAtoms, candidates: candidateFeatures, curvature: curvature, probability: probability)
        guard !laws.isEmpty else {
            throw InputError("the fit frames hold \(fit.count) matched atoms with a position σ, too few for a position calibration: use more --frames")
        }
        let calibration = PositionCalibration(laws: laws, fittedOn: "", atoms: fit.count, heldOut: [], date: "", atomtrackVersion: "")
        let sigma = PositionSigma(outputClasses: rawFinder.outputClasses, calibration: calibration)
        let checks = options.doses.indices.flatMap { k -> [PositionCheck] in
            rawFinder.outputClasses.atomClasses.compactMap { c -> PositionCheck? in
                let name = rawFinder.outputClasses.symbols[c]
                let mine = held[k].filter { $0.outputClass == name }
                guard !mine.isEmpty else { return nil }
                func variance(_ s: (Sample) -> Double) -> Double { mine.reduce(0) { $0 + $1.r2 / (s($1) * s($1)) } / Double(2 * mine.count) }
                return PositionCheck(outputClass: name, dose: options.doses[k], atoms: mine.count, varianceBefore: variance(\.raw),
                                     varianceAfter: variance { s in
                                         sigma.sigma(raw: s.raw, outputClass: c, kind: s.kind,
                                                     features: .init(frameSignal: s.frameSignal, classSigma: s.classSigma.map { [c: $0] } ?? [:]),
                                                     classProbability: s.classProbability)
                                     },
                                     rmse: (mine.reduce(0) { $0 + $1.r2 } / Double(2 * mine.count)).squareRoot())
            }
        }
        let doses = options.doses.map { String(format: "%g", $0) }.joined(separator: ", ")
        return PositionCalibration(
            laws: laws,
            fittedOn: "recipe \(recipe.name) (seed \(recipe.seed)) without scan jitter and flyback, \(options.framesPerDose) frames per dose (items from index 2^41) at doses \(doses) e/Å²; atoms matched to a truth column of their class",
            atoms: fit.count, heldOut: checks, date: ISO8601DateFormatter().string(from: Date()), atomtrackVersion: atomTrackVersion)
    }

    /// The laws of every class × kind, class (kinds pooled) and kind (classes pooled) with at least
    /// `minimumAtoms` atoms. Each group's law takes the candidate frame feature whose law is closest to
    /// unit variance at every dose of its samples (least Σ_dose log² of the mean normalized variance):
    /// the maximum-likelihood law is dominated by the dose with the most atoms, the target is per dose.
    /// The dose only chooses between features here; the law itself never sees it.
    static func laws(_ samples: [Sample], minimumAtoms: Int, candidates: [PositionFrameFeature?] = [nil],
                     curvature: Bool = false, probability: Bool = false) -> [PositionSigmaLaw] {
        var groups: [String: [Sample]] = [:]
        for s in samples {
            for key in ["\(s.outputClass)|\(s.kind.rawValue)", "\(s.outputClass)|any", "*|\(s.kind.rawValue)"] { groups[key, default: []].append(s) }
        }
        return groups.keys.sorted().compactMap { key in
            let members = groups[key]!, parts = key.split(separator: "|").map(String.init)
            guard members.count >= minimumAtoms, let kind = PositionKind(rawValue: parts[1]) else { return nil }
            let fits = candidates.compactMap { feature -> (law: PositionSigmaLaw, spread: Double)? in
                let terms = PositionSigmaLaw.Terms(feature: feature, curvature: curvature, probability: probability)
                guard let law = PositionSigmaLaw.fit(members.map { ($0.raw, $0.r2, $0.feature(feature), $0.classProbability) },
                                                     outputClass: parts[0], kind: kind, terms: terms) else { return nil }
                return (law, doseSpread(members, law))
            }
            return fits.min { $0.spread < $1.spread }?.law
        }
    }

    /// Σ over doses of log²(mean of r²/(2σ²)) of `samples` under `law`: 0 when unit variance at every dose.
    static func doseSpread(_ samples: [Sample], _ law: PositionSigmaLaw) -> Double {
        var sums: [Double: (Double, Int)] = [:]
        for s in samples {
            let sigma = law.sigma(raw: s.raw, frame: s.feature(law.frameFeature), classProbability: s.classProbability)
            let old = sums[s.dose] ?? (0, 0)
            sums[s.dose] = (old.0 + s.r2 / (2 * sigma * sigma), old.1 + 1)
        }
        return sums.values.reduce(0) { $0 + pow(log($1.0 / Double($1.1)), 2) }
    }

    /// The samples as CSV (pixels of the frame; features as in `PositionFrameFeature`), written atomically.
    static func writeCSV(_ samples: [Sample], to url: URL) throws {
        func text(_ v: Double?) -> String { v.map { String(format: "%.6g", $0) } ?? "" }
        var csv = "set,dose,item,class,kind,raw_px,spacing_px,frame_signal,class_sigma,score,class_prob,fit_sigma_px,dx,dy\n"
        for s in samples {
            csv += [s.heldOut ? "held" : "fit", String(format: "%g", s.dose), String(s.item), s.outputClass, s.kind.rawValue,
                    text(s.raw), text(s.spacing), text(s.frameSignal), text(s.classSigma), text(Double(s.score)),
                    text(s.classProbability.map(Double.init)), text(s.fitSigma), text(s.dx), text(s.dy)].joined(separator: ",") + "\n"
        }
        try AtomicFile.writeText(csv, to: url)
    }

    /// The atoms with a raw σ matched to a truth column of their own class, of `framesPerDose` frames at `doses[k]`.
    func samples(dose k: Int, offset: Int, bar: ProgressBar) throws -> [Sample] {
        let names = rawFinder.outputClasses.symbols
        return try frames.matched(dose: options.doses[k], items: offset + k * options.framesPerDose, count: options.framesPerDose, bar: bar)
            .compactMap { m in
                guard let t = m.truth, t.classIndex == m.atom.classIndex, let raw = m.atom.positionSigma, raw > 0, raw.isFinite else { return nil }
                return Sample(outputClass: names[m.atom.classIndex], kind: PositionKind(of: m.atom), raw: raw, dx: m.atom.x - t.x, dy: m.atom.y - t.y,
                              dose: options.doses[k], item: m.item, heldOut: offset == ClassCalibrationFit.heldOutOffset,
                              frameSignal: m.frameSignal, classSigma: m.classSigma, score: m.atom.score,
                              classProbability: m.atom.classProbability, fitSigma: m.atom.sigma, spacing: m.spacing)
            }
    }
}
