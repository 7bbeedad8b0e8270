import Core
import Foundation
import Networks
import Simulation

/// What a shipped model is and what it was trained for: stored as `model.json` beside
/// `model.safetensors`. Inference reads it to name classes, choose tiles and check the pixel size.
public struct ModelCard: Codable, Sendable {
    public struct ClassInfo: Codable, Sendable, Equatable {
        /// The network's name for the class (e.g. `metal`).
        public var name: String
        /// Element symbols the class stands for; `atoms.csv` joins them with `+` (e.g. `W+Mo`).
        public var elements: [String]
        /// The symbol written into tables: elements joined by `+`, or the name for background.
        public var symbol: String { elements.isEmpty ? name : elements.joined(separator: "+") }
    }

    public struct Training: Codable, Sendable {
        public var recipe: String
        public var recipeSeed: UInt64
        public var steps: Int
        public var batchSize: Int
        public var tileSize: Int
        public var learningRate: Float
        public var loss: String
        public var seconds: Double
        public var threads: Int
        public var bestStep: Int
        public var date: String
        public var atomtrackVersion: String
        /// Warm start (`train --from`): the model whose weights training began with; nil for a fresh start.
        public var startedFrom: String? = nil
    }

    /// Validation metrics of one class on a held-out set.
    public struct ClassMetrics: Codable, Sendable {
        public var className: String
        public var pixelIoU: Double?
        public var precision: Double
        public var recall: Double
        public var f1: Double
        public var rmsePx: Double?
    }

    public struct Evaluation: Codable, Sendable {
        /// What was evaluated (e.g. `held-out simulated, 24 frames`, or a validation folder).
        public var dataset: String
        public var matchRadiusPx: Double
        public var perClass: [ClassMetrics]
        public var note: String?
    }

    public var name: String
    public var description: String
    public var architecture: ModelDescription
    /// One entry per network output, background last.
    public var classes: [ClassInfo]
    /// Pixel sizes (Å/px) the model was trained on; inference resamples frames outside it.
    public var pixelSizeRange: [Double]
    /// Doses (e/Å²) the training images spanned.
    public var doseRange: [Double]?
    /// Typical nearest-neighbour column distance (Å): sets the localizer's minimum separation.
    public var columnSpacing: Double
    public var training: Training
    public var evaluations: [Evaluation]
    /// Present when the model was fine-tuned on frames of a movie (`atomtrack finetune`).
    public var finetuning: Finetuning? = nil
    /// The temperatures that calibrate the class probability (`atomtrack calibrate`), with what
    /// they were fitted on; nil: uncalibrated (temperature 1).
    public var classCalibration: ClassCalibration? = nil
    /// The laws that calibrate atoms.csv's `sigma_px` (`atomtrack calibrate`), with what they were
    /// fitted on; nil: the locator's raw σ.
    public var positionCalibration: PositionCalibration? = nil

    /// What a fine-tuned model was tuned on and how, with its held-out scores before and after.
    public struct Finetuning: Codable, Sendable {
        /// The labelled frames: their movie, frame numbers, a checksum, and where the labels came from.
        public struct Source: Codable, Sendable {
            public var movie: String
            public var frames: [Int]
            /// The movie file's fingerprint (size and FNV-1a of its ends), as `analyze` records it.
            public var movieFingerprint: String
            /// FNV-1a (hex) of the labelled frames' pixels (float32, little-endian, in frame order).
            public var framesChecksum: String
            public var pixelSize: Double
            /// How the labels were made (e.g. the Fourier lattice labeler, or a table's path).
            public var labels: String
            public var labelledAtoms: Int
            /// Sites whose class the labels could not decide, left out of the loss and the held-out score.
            public var undecidedSites: Int?
            public init(movie: String, frames: [Int], movieFingerprint: String, framesChecksum: String,
                        pixelSize: Double, labels: String, labelledAtoms: Int, undecidedSites: Int? = nil) {
                self.movie = movie; self.frames = frames; self.movieFingerprint = movieFingerprint
                self.framesChecksum = framesChecksum; self.pixelSize = pixelSize; self.labels = labels
                self.labelledAtoms = labelledAtoms; self.undecidedSites = undecidedSites
            }
        }
        public var baseModel: String
        public var baseDirectory: String
        public var source: Source
        public var steps: Int
        /// Step of the weights kept (0: no step beat the base model on the held-out patches beyond their noise).
        public var bestStep: Int
        public var batchSize: Int
        public var tileSize: Int
        public var learningRate: Float
        public var holdOutFraction: Double
        public var seed: UInt64
        public var seconds: Double
        public var date: String
        public var atomtrackVersion: String
        public var heldOutBefore: Evaluation
        public var heldOutAfter: Evaluation
        /// The rule that decided `bestStep` (`ModelFinetuning.KeepRule`; nil on cards before session 10: independent).
        public var keepRule: String? = nil
        /// Which step was kept and why: the statistics the rule saw against its thresholds.
        public var keptBecause: String? = nil
    }

    /// The class a table's class name stands for: a symbol (`W+Mo`), a class name (`metal`) or one
    /// of a class's elements (`Mo`); nil for background and unknown names.
    public func classIndex(of name: String) -> Int? {
        classes.indices.dropLast().first { classes[$0].symbol == name || classes[$0].name == name || classes[$0].elements.contains(name) }
    }

    public var backgroundClass: Int { classes.count - 1 }

    /// The pixel size inference should resample to when a frame is outside the trained range.
    public var preferredPixelSize: Double { (pixelSizeRange[0] * pixelSizeRange[1]).squareRoot() }

    /// The column spacing in pixels of `pixelSize` Å — the length every search radius, crop
    /// and step limit scales with. An unknown pixel size is taken to be the trained one.
    public func columnSpacingPixels(pixelSize: Double?) -> Double {
        columnSpacing / (pixelSize ?? preferredPixelSize)
    }

    public static func load(_ url: URL) throws -> ModelCard {
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw ModelError.missing(url.path) }
        let card: ModelCard
        do { card = try JSONDecoder().decode(ModelCard.self, from: data) } catch {
            throw ModelError.invalid(url.path, "not a model card (\(error.localizedDescription))")
        }
        do { try card.validate() } catch let e as NetworkError { throw ModelError.invalid(url.path, "\(e)") }
        catch { throw ModelError.invalid(url.path, "\(error)") }
        return card
    }

    /// Refuses a card whose numbers would trap or exhaust memory downstream: every search radius
    /// and crop scales with `columnSpacing`, tiles and resampling with `pixelSizeRange`, and the
    /// architecture must be buildable within the network's size budget.
    public func validate() throws {
        func fail(_ m: String) -> ModelError { .mismatch(m) }
        guard columnSpacing.isFinite, columnSpacing >= 0.1, columnSpacing <= 100 else {
            throw fail("columnSpacing \(columnSpacing) Å is invalid: expected 0.1–100 Å")
        }
        guard pixelSizeRange.count == 2, pixelSizeRange.allSatisfy({ $0.isFinite && Calibration.pixelSizeRange.contains($0) }),
              pixelSizeRange[0] <= pixelSizeRange[1] else {
            throw fail("pixelSizeRange \(pixelSizeRange) is invalid: expected [min, max] within 0.001–100 Å")
        }
        guard !classes.isEmpty else { throw fail("classes is empty") }
        try architecture.validate()
    }

    public func jsonData() throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try e.encode(self)
    }
}

public enum ModelError: Error, CustomStringConvertible {
    case missing(String)
    case invalid(String, String)
    case mismatch(String)

    public var description: String {
        switch self {
        case .missing(let p): return "\(p): model file not found"
        case .invalid(let p, let why): return "\(p): \(why)"
        case .mismatch(let why): return why
        }
    }
}

/// A model directory: `model.safetensors` (weights + architecture) and `model.json` (card).
public struct TrainedModel {
    public let directory: URL
    public let card: ModelCard
    public let network: SegmentationModel

    public static let weightsFile = "model.safetensors"
    public static let cardFile = "model.json"

    /// A model held in memory (e.g. during training); `directory` is where it will be saved.
    public init(directory: URL, card: ModelCard, network: SegmentationModel) {
        self.directory = directory; self.card = card; self.network = network
    }

    /// Loads a model from its directory (or from the path of its `model.safetensors`).
    public init(at url: URL) throws {
        var dir = url
        if url.pathExtension == "safetensors" || url.lastPathComponent == Self.cardFile { dir = url.deletingLastPathComponent() }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir.path, isDirectory: &isDir), isDir.boolValue else {
            throw ModelError.missing(url.path)
        }
        let card = try ModelCard.load(dir.appendingPathComponent(Self.cardFile))
        let weights = dir.appendingPathComponent(Self.weightsFile)
        guard FileManager.default.fileExists(atPath: weights.path) else { throw ModelError.missing(weights.path) }
        let network: SegmentationModel
        do { network = try Checkpoint.load(from: weights).model } catch NetworkError.invalidDescription(let why) {
            throw ModelError.invalid(weights.path, "invalid model description: \(why)")  // name the file
        }
        guard network.modelDescription.classNames == card.classes.map(\.name) else {
            throw ModelError.invalid(weights.path, "weights' classes \(network.modelDescription.classNames) differ from the card's \(card.classes.map(\.name))")
        }
        directory = dir; self.card = card; self.network = network
    }
}
