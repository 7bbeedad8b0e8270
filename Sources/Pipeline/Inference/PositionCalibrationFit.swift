import Core
import Foundation
import Localization
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

    /// One matched atom: its class, kind, raw σ and squared error distance.
    struct Sample { var outputClass: String; var kind: PositionKind; var raw: Double; var r2: Double }

    public func run(progress: Bool = false) throws -> PositionCalibration {
        let bar = ProgressBar("calibrate σ", total: 2 * options.framesPerDose * options.doses.count, quiet: !progress)
        defer { bar.finish() }
        let fit = try options.doses.indices.flatMap { try samples(dose: $0, offset: ClassCalibrationFit.fitOffset, bar: bar) }
        let laws = Self.laws(fit, minimumAtoms: minimumAtoms)
        guard !laws.isEmpty else {
            throw InputError("the fit frames hold \(fit.count) matched atoms with a position σ, too few for a position calibration: use more --frames")
        }
        let calibration = PositionCalibration(laws: laws, fittedOn: "", atoms: fit.count, heldOut: [], date: "", atomtrackVersion: "")
        let sigma = PositionSigma(outputClasses: rawFinder.outputClasses, calibration: calibration)
        let checks = try options.doses.indices.flatMap { k -> [PositionCheck] in
            let held = try samples(dose: k, offset: ClassCalibrationFit.heldOutOffset, bar: bar)
            return rawFinder.outputClasses.atomClasses.compactMap { c -> PositionCheck? in
                let name = rawFinder.outputClasses.symbols[c]
                let mine = held.filter { $0.outputClass == name }
                guard !mine.isEmpty else { return nil }
                func variance(_ s: (Sample) -> Double) -> Double { mine.reduce(0) { $0 + $1.r2 / (s($1) * s($1)) } / Double(2 * mine.count) }
                return PositionCheck(outputClass: name, dose: options.doses[k], atoms: mine.count, varianceBefore: variance(\.raw),
                                     varianceAfter: variance { sigma.sigma(raw: $0.raw, outputClass: c, kind: $0.kind) },
                                     rmse: (mine.reduce(0) { $0 + $1.r2 } / Double(2 * mine.count)).squareRoot())
            }
        }
        let doses = options.doses.map { String(format: "%g", $0) }.joined(separator: ", ")
        return PositionCalibration(
            laws: laws,
            fittedOn: "recipe \(recipe.name) (seed \(recipe.seed)) without scan jitter and flyback, \(options.framesPerDose) frames per dose (items from index 2^41) at doses \(doses) e/Å²; atoms matched to a truth column of their class",
            atoms: fit.count, heldOut: checks, date: ISO8601DateFormatter().string(from: Date()), atomtrackVersion: atomTrackVersion)
    }

    /// The laws of every class × kind, class (kinds pooled) and kind (classes pooled) with at least `minimumAtoms` atoms.
    static func laws(_ samples: [Sample], minimumAtoms: Int) -> [PositionSigmaLaw] {
        var groups: [String: [Sample]] = [:]
        for s in samples {
            for key in ["\(s.outputClass)|\(s.kind.rawValue)", "\(s.outputClass)|any", "*|\(s.kind.rawValue)"] { groups[key, default: []].append(s) }
        }
        return groups.keys.sorted().compactMap { key in
            let members = groups[key]!, parts = key.split(separator: "|").map(String.init)
            guard members.count >= minimumAtoms, let kind = PositionKind(rawValue: parts[1]) else { return nil }
            return PositionSigmaLaw.fit(members.map { ($0.raw, $0.r2) }, outputClass: parts[0], kind: kind)
        }
    }

    /// The atoms with a raw σ matched to a truth column of their own class, of `framesPerDose` frames at `doses[k]`.
    func samples(dose k: Int, offset: Int, bar: ProgressBar) throws -> [Sample] {
        let names = rawFinder.outputClasses.symbols
        return try frames.matched(dose: options.doses[k], items: offset + k * options.framesPerDose, count: options.framesPerDose, bar: bar)
            .compactMap { m in
                guard let t = m.truth, t.classIndex == m.atom.classIndex, let raw = m.atom.positionSigma, raw > 0, raw.isFinite else { return nil }
                let dx = m.atom.x - t.x, dy = m.atom.y - t.y
                return Sample(outputClass: names[m.atom.classIndex], kind: PositionKind(of: m.atom), raw: raw, r2: dx * dx + dy * dy)
            }
    }
}
