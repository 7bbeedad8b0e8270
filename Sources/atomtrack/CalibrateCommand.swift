import ArgumentParser
import Core
import Foundation
import MicroscopyIO
import Pipeline

struct Calibrate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fit a model's class-probability and position-σ calibration on simulated frames and store it in its card.",
        discussion: """
        Simulates --frames frames of --recipe (the model's training recipe) at each --dose, finds their \
        atoms, matches them to the truth, and fits by maximum likelihood the temperature that divides \
        the network's class evidence and a bias on its background class that moves with the frame's \
        own signal-to-noise (and, for a class split by \
        Z-contrast such as W/Mo, the temperature of the contrast log-odds), and per class and position kind (fit, centroid, \
        rejected fit) the law log σ = a + b·log σ_raw + c·g + d·g² + e·(log(1 − class_prob) − q₀) that \
        calibrates the position σ, g the frame's own noise level (its class's median raw σ over the column \
        spacing, or the frame's signal-to-noise, whichever calibrates every dose best) less its mean, on the \
        same frames without scan jitter and flyback. The expected calibration error and the variance of error/σ are measured before \
        and after on as many other frames per dose. Writes MODEL/model.json (classCalibration, \
        positionCalibration; the weights are not touched), atomically; locate and analyze then \
        report the calibrated class_prob and sigma_px per atom.
        """)

    @OptionGroup var choice: ModelChoice
    @Option(help: "Training recipe (JSON) the frames are simulated from, e.g. TrainingData/tmd-ws2.json.") var recipe: String
    @Option(help: "Frames per dose for the fit (and as many held out for the check).") var frames = 8
    @Option(parsing: .upToNextOption, help: "Doses (e/Å²) every frame is drawn at.") var dose: [Double] = [1e4, 1e5, 1e6]
    @Option(help: "Equal-mass bins of the expected calibration error.") var bins = 15
    @Option(help: "Also write every matched atom of the position-σ frames (fit and held out: class, kind, dose, raw σ, frame features, error) to this CSV, before the card.")
    var samples: String?
    @Flag(help: "No progress bar.") var quiet = false

    func run() throws {
        try reportingErrors {
            var options = ClassCalibrationFit.Options()
            options.framesPerDose = frames; options.doses = dose; options.bins = bins
            try options.validate()
            let samplesFile = samples.map { URL(fileURLWithPath: $0) }
            if let f = samplesFile {
                var isDirectory: ObjCBool = false
                let parent = f.deletingLastPathComponent().path
                guard FileManager.default.fileExists(atPath: parent, isDirectory: &isDirectory), isDirectory.boolValue else {
                    throw InputError("--samples \(f.path): the directory \(parent) does not exist")
                }
            }
            let directory = try ShippedModels.resolve(model: choice.model, material: choice.material)
            let model = try TrainedModel(at: directory)
            let finder = try AtomFinder(model: model), recipe = try SimulationExport.recipe(at: recipe)
            let fit = try ClassCalibrationFit(finder: finder, recipe: recipe, options: options)
            let calibration = try fit.run(progress: !quiet)
            var card = model.card
            card.classCalibration = calibration
            // The σ laws see each atom's class probability as the new class calibration gives it.
            let calibrated = try AtomFinder(model: TrainedModel(directory: model.directory, card: card, network: model.network))
            let positions = try PositionCalibrationFit(finder: calibrated, recipe: recipe, options: options)
                .run(progress: !quiet, samplesFile: samplesFile)
            card.positionCalibration = positions
            try AtomicFile.write(card.jsonData(), to: model.directory.appendingPathComponent(TrainedModel.cardFile))
            let contrast = calibration.contrastAtoms.map { n in
                calibration.contrastTemperature.map { String(format: "; contrast temperature %.4f (%d atoms)", $0, n) }
                    ?? "; contrast temperature not determined by \(n) atoms (none on the wrong side of the contrast decision): 1"
            } ?? ""
            let frameTerm = calibration.frameSignalCoefficient.map { String(format: " + %.4f × (frame signal − %.4f)", $0, calibration.frameSignalReference ?? 0) } ?? ""
            print(String(format: "temperature %.4f, background bias %.4f", calibration.temperature, calibration.backgroundBias) + frameTerm
                  + " (\(calibration.atoms) atoms)" + contrast)
            for c in positions.heldOut {
                print(String(format: "dose %g, %@: %d held-out atoms, RMSE %.4f px per axis; variance of error/sigma_px %.3f → %.3f",
                             c.dose ?? 0, c.outputClass, c.atoms, c.rmse, c.varianceBefore, c.varianceAfter))
            }
            for c in calibration.heldOut {
                print(String(format: "dose %g: %d held-out atoms, accuracy %.4f; mean class_prob %.4f → %.4f, ECE %.4f → %.4f",
                             c.dose ?? 0, c.atoms, c.accuracy, c.meanBefore, c.meanAfter, c.eceBefore, c.eceAfter))
            }
        }
    }
}
