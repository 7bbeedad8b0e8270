import Core
import Foundation
import Localization
import Simulation

/// Fits a model's class-probability temperature and background bias (`ClassCalibration`) on simulated frames of a
/// training recipe with truth, and measures the expected calibration error before and after on
/// other frames of the same recipe: fit frames are items 2^41 + …, held-out frames 2^42 + …,
/// both disjoint from training (items from 0) and validation (2^40 + …). Every frame is drawn at
/// each of `doses` (Poisson noise), so one temperature serves them all.
///
/// An atom's reported class is right when it is matched (one to one over all classes, within
/// 0.4 × the column spacing, `LinearAssignment.matchPoints`) to a truth column of that class; an
/// unmatched atom is background (`CalibrationFrames`).
public struct ClassCalibrationFit {
    public struct Options: Sendable {
        public var framesPerDose = 8
        public var doses: [Double] = [1e4, 1e5, 1e6]
        public var bins = 15
        public init() {}

        /// Refuses settings that cannot fit or measure anything, naming the option.
        public func validate() throws {
            try InputError.require((1...1000).contains(framesPerDose), "--frames", framesPerDose, "expected 1–1000 frames per dose")
            try InputError.require(!doses.isEmpty, "--dose", 0, "expected at least one dose")
            for d in doses { try InputError.require(d.isFinite && d > 0 && d <= MovieSpec.maxDose, "--dose", d, "expected 0 < dose ≤ 10⁹ e/Å²") }
            try InputError.require((1...100).contains(bins), "--bins", bins, "expected 1–100 bins")
        }
    }

    /// One interior atom with what the fit needs.
    struct Sample {
        var evidence: [Float]
        /// Output classes (the split dopant apart); truth −1 = no truth column (a phantom).
        var reported: Int, truth: Int
        var contrastLogOdds: Double?
        /// The frame's `FrameSignal` (nil: unmeasured).
        var frameSignal: Double?
    }

    public let finder: AtomFinder
    public let recipe: Recipe
    public let options: Options
    let frames: CalibrationFrames
    static let fitOffset = 1 << 41, heldOutOffset = 1 << 42

    /// - Throws: `InputError` for invalid options or a recipe whose classes differ from the model's.
    public init(finder: AtomFinder, recipe: Recipe, options: Options = Options()) throws {
        try options.validate()
        let recipeClasses = (recipe.classes ?? []).map(\.name) + ["background"]
        guard recipeClasses == finder.model.card.classes.map(\.name) else {
            throw InputError("recipe \(recipe.name) has classes \(recipeClasses.joined(separator: ", ")); model \(finder.model.card.name) has \(finder.model.card.classes.map(\.name).joined(separator: ", "))")
        }
        self.finder = finder; self.recipe = recipe; self.options = options
        frames = CalibrationFrames(finder: finder, recipe: recipe)
    }

    var probability: ClassProbability { finder.classProbability }

    /// Fits the temperatures and measures them on the held-out frames.
    public func run(progress: Bool = false) throws -> ClassCalibration {
        let bar = ProgressBar("calibrate", total: 2 * options.framesPerDose * options.doses.count, quiet: !progress)
        let fit = try options.doses.indices.flatMap { try samples(dose: $0, offset: Self.fitOffset, bar: bar) }
        let scaling = fitScaling(fit)
        guard let t = TemperatureScaling.determined(scaling.temperature), abs(scaling.backgroundBias) < 9.99 else {
            throw InputError("the \(fit.count) atoms of the fit frames do not determine a temperature (every one right, or none): use more --frames or lower doses")
        }
        // The contrast temperature: from the split class's matched atoms. Where the fit frames hold
        // no atom on the wrong side of the contrast decision the likelihood falls without end as
        // T → 0 (separable data): T is not determined, and the Gaussian log-odds stand as they are.
        let contrast = fit.filter { $0.contrastLogOdds != nil && isMerged($0.truth) }
        let tc = contrast.count >= 10 && finder.outputClasses.dopant != nil
            ? TemperatureScaling.fitWithinRange(logOdds: contrast.map { $0.contrastLogOdds! },
                                                outcome: contrast.map { $0.truth == finder.outputClasses.dopant!.lightClass })
            : nil
        let calibrated = ClassProbability(outputClasses: finder.outputClasses, temperature: t, backgroundBias: scaling.backgroundBias,
                                          contrastTemperature: tc ?? 1, frameSignal: scaling.frameTerm ?? (0, 0))
        let uncalibrated = ClassProbability(outputClasses: finder.outputClasses, temperature: 1)
        let checks = try options.doses.indices.map { k -> CalibrationCheck in
            let held = try samples(dose: k, offset: Self.heldOutOffset, bar: bar)
            let correct = held.map { $0.reported == $0.truth }
            func confidences(_ p: ClassProbability) -> [Double] {
                held.map { p.probability(evidence: $0.evidence, reportedClass: $0.reported, contrastLogOdds: $0.contrastLogOdds, frameSignal: $0.frameSignal) }
            }
            let before = confidences(uncalibrated), after = confidences(calibrated)
            func ece(_ c: [Double]) -> Double { ReliabilityBins(confidences: c, correct: correct, count: options.bins).expectedCalibrationError }
            func mean(_ c: [Double]) -> Double { c.reduce(0, +) / Double(max(1, c.count)) }
            return CalibrationCheck(dataset: "held-out simulated frames (\(options.framesPerDose), recipe \(recipe.name), items from index 2^42)",
                                    dose: options.doses[k], atoms: held.count,
                                    accuracy: Double(correct.filter { $0 }.count) / Double(max(1, held.count)),
                                    meanBefore: mean(before), meanAfter: mean(after),
                                    eceBefore: ece(before), eceAfter: ece(after), bins: options.bins)
        }
        bar.finish()
        return ClassCalibration(
            temperature: t, backgroundBias: scaling.backgroundBias, contrastTemperature: tc,
            frameSignalCoefficient: scaling.frameTerm?.coefficient, frameSignalReference: scaling.frameTerm?.reference,
            fittedOn: "recipe \(recipe.name) (seed \(recipe.seed)), \(options.framesPerDose) frames per dose (items from index 2^41) at doses \(options.doses.map { String(format: "%g", $0) }.joined(separator: ", ")) e/Å²",
            atoms: fit.count, contrastAtoms: finder.outputClasses.dopant == nil ? nil : contrast.count, heldOut: checks,
            date: ISO8601DateFormatter().string(from: Date()), atomtrackVersion: atomTrackVersion)
    }

    /// T and b, with the frame term where every sample's frame signal was measured, the frames'
    /// signals differ, and the fit determines it (a slope at the edge of its range, e.g. every atom right, is none).
    func fitScaling(_ fit: [Sample]) -> (temperature: Double, backgroundBias: Double, frameTerm: (coefficient: Double, reference: Double)?) {
        let evidence = fit.map(\.evidence), truth = fit.map { modelTruth($0) }
        let signals = fit.compactMap(\.frameSignal)
        if signals.count == fit.count, let low = signals.min(), let high = signals.max(), high - low > 1e-6 {
            let f = TemperatureScaling.fit(evidence: evidence, truth: truth, frameSignal: signals)
            if abs(f.coefficient) < 19.9 { return (f.temperature, f.backgroundBias, (f.coefficient, f.reference)) }
        }
        let plain = TemperatureScaling.fit(evidence: evidence, truth: truth)
        return (plain.temperature, plain.backgroundBias, nil)
    }

    func isMerged(_ outputClass: Int) -> Bool {
        guard let d = finder.outputClasses.dopant else { return false }
        return outputClass == d.mergedClass || outputClass == d.lightClass
    }

    /// The true model class (background for a phantom).
    func modelTruth(_ s: Sample) -> Int { s.truth < 0 ? finder.model.card.backgroundClass : probability.modelClass(s.truth) }

    /// The interior atoms with class evidence of `framesPerDose` frames at dose `doses[k]`, from item `offset + k · framesPerDose`.
    func samples(dose k: Int, offset: Int, bar: ProgressBar) throws -> [Sample] {
        try frames.matched(dose: options.doses[k], items: offset + k * options.framesPerDose, count: options.framesPerDose, bar: bar)
            .filter { $0.atom.classEvidence != nil }
            .map { Sample(evidence: $0.atom.classEvidence!, reported: $0.atom.classIndex, truth: $0.truth?.classIndex ?? -1,
                          contrastLogOdds: $0.contrastLogOdds, frameSignal: $0.frameSignal) }
    }
}

/// Simulated frames of a training recipe with truth, as `calibrate` fits on them: each frame's
/// atoms found by the finder, those more than `borderMargin` px inside the frame matched one to
/// one over all classes (`LinearAssignment.matchPoints`, within 0.4 × the column spacing) to the
/// truth columns (kept in a one-pixel band beyond the margin: a column just outside may be found
/// just inside).
struct CalibrationFrames {
    struct Match {
        var atom: Atom
        /// The matched truth column (output class index); nil for a phantom.
        var truth: (x: Double, y: Double, classIndex: Int)?
        var contrastLogOdds: Double?
        var frameSignal: Double?
        /// The frame's `PositionSigma.classSigmaFeatures` of the atom's class (nil: none of its class was fitted).
        var classSigma: Double? = nil
        /// The recipe item the frame was drawn from, and its column spacing (px).
        var item = 0, spacing = 0.0
    }

    let finder: AtomFinder
    let recipe: Recipe
    var borderMargin = 3.0

    /// The matched interior atoms of frames `items ..< items + count` drawn at `dose`.
    func matched(dose: Double, items: Int, count: Int, bar: ProgressBar) throws -> [Match] {
        var r = recipe
        r.dose = [dose, dose]
        let generator = try TrainingSetGenerator(recipe: r)
        return try (0..<count).flatMap { i -> [Match] in
            defer { bar.advance() }
            return try matched(try generator.frame(index: items + i)).map { var m = $0; m.item = items + i; return m }
        }
    }

    func matched(_ frame: SimulatedFrame) throws -> [Match] {
        let g = frame.geometry, card = finder.model.card
        let found = try finder.locateWithEvidence(in: frame.image, width: g.width, height: g.height, pixelSize: g.pixelSize)
        func inside(_ x: Double, _ y: Double, by m: Double) -> Bool {
            x >= m && y >= m && x <= Double(g.width - 1) - m && y <= Double(g.height - 1) - m
        }
        let atoms = found.atoms.indices.filter { inside(found.atoms[$0].x, found.atoms[$0].y, by: borderMargin) }
        let truth = frame.truthColumns.compactMap { t -> (x: Double, y: Double, classIndex: Int)? in
            guard inside(t.pixel.x, t.pixel.y, by: borderMargin - 1),
                  let c = finder.outputClasses.classIndex(ofElement: t.column.symbol, card: card) else { return nil }
            return (t.pixel.x, t.pixel.y, c)
        }
        let radius = 0.4 * card.columnSpacingPixels(pixelSize: g.pixelSize)
        let pairs = LinearAssignment.matchPoints(atoms.map { (found.atoms[$0].x, found.atoms[$0].y) }, truth.map { ($0.x, $0.y) },
                                                 maxDistance: radius, objective: .mostPairs)
        let classSigma = PositionSigma.classSigmaFeatures(found.atoms, columnSpacingPixels: card.columnSpacingPixels(pixelSize: g.pixelSize))
        var matches = atoms.map { Match(atom: found.atoms[$0], truth: nil, contrastLogOdds: found.contrastLogOdds[$0], frameSignal: found.frameSignal,
                                        classSigma: classSigma[found.atoms[$0].classIndex],
                                        spacing: card.columnSpacingPixels(pixelSize: g.pixelSize)) }
        for (i, j, _) in pairs { matches[i].truth = truth[j] }
        return matches
    }
}
