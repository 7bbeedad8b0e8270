import Core
import ArgumentParser
import Foundation
import Pipeline
import Simulation

struct Simulate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Simulate a STEM movie with ground truth, or a training set, from a recipe.",
        discussion: """
        A recipe with a "movie" section writes OUT/movie.tif (float32 stack, pixel size in Å in its
        metadata), movie.json, truth_atoms.csv (frame,x,y,class,defect_id), truth_defects.csv
        (frame,defect_id,x,y,state) and truth.json (pixel size, frame time, dose, probe, classes,
        true D per state, true transition matrix, seed). Any other recipe writes --count training
        pairs: images.tif, masks.tif (class per pixel, background last), points.csv.
        The same recipe and seed give byte-identical files.
        """)

    @Option(help: "Recipe (JSON), e.g. TrainingData/movie-ws2.json.") var recipe: String
    @Option(help: "Output directory.") var out: String
    @Option(help: "Override the recipe's seed.") var seed: UInt64?
    @Option(help: "Override the number of movie frames.") var frames: Int?
    @Option(help: "Override the movie dose (e/Å²).") var dose: Double?
    @Option(help: "Training pairs to write (training recipes).") var count = 16
    @Flag(help: "Replace earlier results in OUT.") var overwrite = false
    @Flag(help: "No progress bar.") var quiet = false

    func run() throws {
        try reportingErrors {
            var r = try Recipe.decode(try readFile(recipe))
            if let seed { r.seed = seed }
            if let frames { r.movie?.frames = frames }
            if let dose { r.movie?.dose = dose }
            try r.validate()
            let dir = URL(fileURLWithPath: out)
            try OutputDirectory.prepare(dir, markers: ["truth.json", "movie.tif", "images.tif"], allowExisting: overwrite)
            if r.movie != nil {
                let truth = try SimulationExport.writeMovie(recipe: r, to: dir, progress: !quiet)
                print("movie: \(dir.path)/movie.tif  (\(truth.summary.frames) frames, \(truth.summary.width)×\(truth.summary.height) px, \(truth.summary.pixelSizeA) Å/px)")
            } else {
                try SimulationExport.writeTrainingSet(recipe: r, count: count, to: dir, progress: !quiet)
                print("training set: \(dir.path) (\(count) pairs)")
            }
        }
    }
}

/// Reads a whole input file, naming it in the error.
func readFile(_ path: String) throws -> Data {
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { throw InputError("\(path): no such file") }
    guard !isDir.boolValue else { throw InputError("\(path): is a directory, expected a file") }
    do { return try Data(contentsOf: URL(fileURLWithPath: path)) } catch { throw InputError("\(path): cannot read (\(error.localizedDescription))") }
}
