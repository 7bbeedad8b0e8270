import Core
import Foundation
import MicroscopyIO
import Simulation

/// Writes what `atomtrack simulate` promises: a movie with its ground truth, or a training set.
public enum SimulationExport {
    public static let movieFile = "movie.tif"

    /// A directory holding one of these holds a simulation.
    public static let markers = ["truth.json", movieFile, "images.tif"]

    /// The recipe in the file at `path` (or the shipped recipe of that name, `ShippedFiles.locate`),
    /// with the command line's overrides, validated.
    public static func recipe(at path: String, seed: UInt64? = nil, frames: Int? = nil, dose: Double? = nil) throws -> Recipe {
        // The overrides are named as the flags are; the recipe's own values by `validate`.
        if let frames { try InputError.require((1...1_000_000).contains(frames), "--frames", frames, "expected 1–10⁶ frames") }
        if let dose { try InputError.require(dose > 0 && dose <= MovieSpec.maxDose, "--dose", dose, "expected 0 < dose ≤ 10⁹ e/Å²") }
        var r = try Recipe.decode(InputFile.read(ShippedFiles.locate(path)))
        if let seed { r.seed = seed }
        if let frames { r.movie?.frames = frames }
        if let dose { r.movie?.dose = dose }
        try r.validate()
        return r
    }

    /// What `write` wrote.
    public enum Written: Sendable {
        case movie(frames: Int, width: Int, height: Int, pixelSizeA: Double)
        case trainingSet(pairs: Int)
    }

    /// A movie recipe's movie with its truth, or any other recipe's `count` training pairs.
    public static func write(recipe: Recipe, trainingPairs count: Int, to dir: URL, progress: Bool = true) throws -> Written {
        guard recipe.movie != nil else {
            try writeTrainingSet(recipe: recipe, count: count, to: dir, progress: progress)
            return .trainingSet(pairs: count)
        }
        let s = try writeMovie(recipe: recipe, to: dir, progress: progress).summary
        return .movie(frames: s.frames, width: s.width, height: s.height, pixelSizeA: s.pixelSizeA)
    }

    /// Movie recipe → `movie.tif` (float32 stack, pixel size in the metadata), `movie.json`
    /// (sidecar), `truth_atoms.csv`, `truth_defects.csv`, `truth.json`. Frames stream to disk.
    @discardableResult
    public static func writeMovie(recipe: Recipe, to dir: URL, progress: Bool = true) throws -> MovieTruth {
        let simulator = try MovieSimulator(recipe: recipe)
        let g = simulator.geometry
        let writer = try TIFFStackWriter(url: dir.appendingPathComponent(movieFile), width: g.width, height: g.height,
                                         sampleType: .float32, pixelSizeA: g.pixelSize)
        let bar = ProgressBar("simulate \(recipe.name)", total: simulator.spec.frames, quiet: !progress)
        let truth = try writingStacks([writer]) {
            try simulator.run { frame in
                try writer.append(frame.image)
                bar.advance()
            }
        }
        bar.finish()
        let json = try truth.json()
        try AtomicFile.write(json, to: dir.appendingPathComponent("truth.json"))
        try AtomicFile.write(json, to: dir.appendingPathComponent("movie.json"))
        try AtomicFile.writeText(truth.atomsCSV, to: dir.appendingPathComponent("truth_atoms.csv"))
        try AtomicFile.writeText(truth.defectsCSV, to: dir.appendingPathComponent("truth_defects.csv"))
        if let voids = truth.voidsCSV { try AtomicFile.writeText(voids, to: dir.appendingPathComponent("truth_voids.csv")) }
        return truth
    }

    /// Training recipe → `count` pairs: `images.tif` (float32, normalized), `masks.tif`
    /// (uint8 class per pixel, background last), `points.csv` (`pair,x,y,class`), `classes.json`.
    public static func writeTrainingSet(recipe: Recipe, count: Int, to dir: URL, progress: Bool = true) throws {
        let generator = try TrainingSetGenerator(recipe: recipe)
        let images = try TIFFStackWriter(url: dir.appendingPathComponent("images.tif"), width: recipe.width,
                                         height: recipe.height, sampleType: .float32)
        let masks = try TIFFStackWriter(url: dir.appendingPathComponent("masks.tif"), width: recipe.width,
                                        height: recipe.height, sampleType: .uint8)
        var points = "pair,x,y,class\n"
        let bar = ProgressBar("simulate \(recipe.name)", total: count, unit: "pairs", quiet: !progress)
        try writingStacks([images, masks]) {
            for i in 0..<count {
                let p = try generator.pair(index: i)
                try images.append(p.image)
                try masks.append(p.mask.map(Float.init))
                for q in p.points {
                    points += "\(i),\(String(format: "%.4f", q.x)),\(String(format: "%.4f", q.y)),\(p.classNames[q.label])\n"
                }
                bar.advance()
            }
        }
        bar.finish()
        try AtomicFile.writeText(points, to: dir.appendingPathComponent("points.csv"))
        try AtomicFile.writeJSON(["recipe": recipe.name, "seed": "\(recipe.seed)", "pairs": "\(count)",
                                  "classes": generator.classNames.joined(separator: ",")],
                                 to: dir.appendingPathComponent("classes.json"))
    }
}
