import Core
import FourierLattice
import Foundation
import MicroscopyIO
import Simulation

/// Where the labels of the frames to fine-tune on come from: a function of the frame and its
/// pixel size returning labelled columns in the model's class indices (and the columns it could
/// not decide, left out of the loss), with a line naming it for the model card.
public struct FrameLabels {
    public let description: String
    /// Labelled and undecided columns of frame `index` (its image and pixel size), classes in the model's indices.
    public let label: (_ frame: GrayImage, _ index: Int, _ pixelSize: Double) throws -> (points: [LabelledPoint], undecided: [LabelledPoint])

    public init(description: String, label: @escaping (GrayImage, Int, Double) throws -> (points: [LabelledPoint], undecided: [LabelledPoint])) {
        self.description = description; self.label = label
    }

    /// Labels from a `frame,x,y,class` table (an atoms.csv checked by hand, or a simulator's
    /// truth_atoms.csv). Class names are symbols (`W+Mo`), class names or elements; rows of other
    /// classes are left out, and rows of one class within half a pixel are one column (an S2
    /// column is listed as two S atoms).
    public static func table(_ path: String, card: ModelCard) throws -> FrameLabels {
        let table = try CSVTable(url: URL(fileURLWithPath: path))
        let f = try table.column("frame"), x = try table.column("x"), y = try table.column("y"), c = try table.column("class")
        var byFrame: [Int: [LabelledPoint]] = [:]
        for r in table.rows {
            guard let i = Int(r[f]), let px = Double(r[x]), let py = Double(r[y]), px.isFinite, py.isFinite else {
                throw InputError("\(path): bad row \(r.joined(separator: ","))")
            }
            guard let label = card.classIndex(of: r[c]) else { continue }
            if byFrame[i, default: []].contains(where: { $0.label == label && abs($0.x - px) < 0.5 && abs($0.y - py) < 0.5 }) { continue }
            byFrame[i, default: []].append(LabelledPoint(x: px, y: py, label: label))
        }
        return FrameLabels(description: "table \(path)") { _, index, _ in
            guard let points = byFrame[index] else { throw InputError("\(path): no labels of the model's classes for frame \(index)") }
            return (points, [])
        }
    }
}

extension FrameLabels {
    /// Labels read off each frame itself by its Fourier lattice (`LatticeLabeler.labels`: every site of
    /// the reconstructed lattice whose contrast decides it holds a column, in the class of what it holds;
    /// the sites it cannot decide are left out of the loss), for a model whose classes are those of one
    /// of the labeler's materials (ws2, graphene).
    public static func lattice(card: ModelCard) throws -> FrameLabels {
        let names = card.classes.map(\.name)
        guard let material = try ["ws2", "graphene"].map({ try LatticeMaterial.named($0) }).first(where: { $0.classNames == names }) else {
            throw InputError("the model's classes \(names) match no material of the Fourier lattice labeler (ws2, graphene); give --labels TABLE")
        }
        return FrameLabels(description: "Fourier lattice labels (\(material.name))") { frame, _, pixelSize in
            let l = try LatticeLabeler.labels(frame: frame.pixels, width: frame.width, height: frame.height, material: material,
                                              pixelSize: pixelSize)
            return (l.points, l.undecided)
        }
    }
}

extension ModelFinetuning {
    /// Reads `frames` of a movie at its pixel size (the flag's, else the file's, else the lattice's
    /// or the base model's, warned about: the pipeline's one movie calibration) and labels them;
    /// refuses frames outside the movie first.
    public static func labelledFrames(movie path: String, signal: String? = nil, frames: [Int], pixelSize flag: Double?,
                                      model: TrainedModel, labels: FrameLabels) throws -> ([LabelledFrame], ModelCard.Finetuning.Source) {
        let movie = try Movie.open(URL(fileURLWithPath: path), signal: signal)
        guard !frames.isEmpty else { throw InputError("--frames: give at least one frame") }
        for i in frames where i < 0 || i >= movie.frameCount {
            throw InputError("--frames \(i) is outside the movie's \(movie.frameCount) frames")
        }
        let pixelSize = try Calibration.resolve(for: movie, finder: AtomFinder(model: model), pixelSizeFlag: flag, frameTimeFlag: nil,
                                                usesFrameTime: false).pixelSize
        var checksumBytes = Data(), out: [LabelledFrame] = []
        for i in frames {
            let image = try movie.frame(i)
            image.pixels.withUnsafeBytes { checksumBytes.append(contentsOf: $0) }
            let (points, undecided) = try labels.label(image, i, pixelSize)
            out.append(LabelledFrame(image: image.pixels, width: image.width, height: image.height, pixelSize: pixelSize,
                                     points: points, ignored: undecided))
        }
        let source = ModelCard.Finetuning.Source(
            movie: path, frames: frames, movieFingerprint: Analysis.fingerprint(of: movie.url),
            framesChecksum: String(Checksum.fnv1a(checksumBytes), radix: 16), pixelSize: pixelSize,
            labels: labels.description, labelledAtoms: out.map(\.points.count).reduce(0, +),
            undecidedSites: out.map(\.ignored.count).reduce(0, +))
        return (out, source)
    }
}

extension Analysis {
    /// Where `analyze --finetune-first-frame` writes the model it tunes (inside OUT).
    public static let finetunedModelFolder = "finetuned-model"

    /// `analyze --finetune-first-frame`: the run's model, tuned on the first analysed frame of its
    /// movie, to be written into OUT/finetuned-model; everything is read and checked here, before
    /// OUT is made.
    public static func finetuningFirstFrame(of config: AnalysisConfig, output: URL, options: ModelFinetuning.Options,
                                            labels: (ModelCard) throws -> FrameLabels) throws -> ModelFinetuning {
        let base = try TrainedModel(at: ShippedModels.resolve(model: config.model, material: config.material))
        let (frames, source) = try ModelFinetuning.labelledFrames(
            movie: config.movie, signal: config.signal, frames: [config.firstFrame], pixelSize: config.pixelSize,
            model: base, labels: labels(base.card))
        return try ModelFinetuning(base: base, frames: frames, source: source, options: options,
                                   outputDirectory: output.appendingPathComponent(finetunedModelFolder))
    }
}
