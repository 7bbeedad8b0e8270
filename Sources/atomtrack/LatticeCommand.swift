import ArgumentParser
import Foundation
import Pipeline

struct LatticeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lattice",
        abstract: "Fourier lattice analysis of one frame: lattice vectors, pixel size, point defects (no network).",
        discussion: """
        Finds the Bragg peaks, fits the lattice vectors to them (→ pixel size against the material's \
        lattice constant), reconstructs the periodic lattice (windows around the peaks, inverse FFT) and \
        classifies every lattice site by its brightness against the material's expected Z-contrasts. \
        Writes lattice.json (vectors, pixel-size estimate, counts per site kind), departures.csv and \
        sites.csv (x,y,site,kind,contrast,x_A,y_A), spectrum.png, reconstruction.png, departures.png.
        """)

    @Argument(help: "Frame or movie (any format `info` reads).") var movie: String
    @Option(help: "Frame of the movie to analyse.") var frame = 0
    @Option(help: "Material: ws2 or graphene.") var material: String
    @OptionGroup var signal: SignalOption
    @OptionGroup var pixelSize: PixelSizeOption
    @OptionGroup var output: OutputOptions

    func run() throws {
        try reportingErrors {
            let stage = try LatticeFrameStage(movie: movie, frame: frame, material: material,
                                              pixelSize: pixelSize.pixelSize, signal: signal.signal)
            let dir = try output.prepare(markers: LatticeFrameStage.markers, inputs: [.init(movie)])
            try stage.write(to: dir)
            let s = stage.summary
            let departures = s.departures.sorted { $0.key < $1.key }
            print(String(format: "lattice: |a1| %.3f px, |a2| %.3f px, angle %.2f°, %d Bragg peaks → pixel size %.4f Å (a = %.3f Å)",
                         (s.a1[0] * s.a1[0] + s.a1[1] * s.a1[1]).squareRoot(), (s.a2[0] * s.a2[0] + s.a2[1] * s.a2[1]).squareRoot(),
                         s.angleDegrees, s.braggPeaks, s.pixelSizeEstimateA, s.latticeConstantA))
            print("sites: \(s.sites); departures: " + (departures.isEmpty ? "none" : departures.map { "\($0.key) \($0.value)" }.joined(separator: ", ")))
            print("written: \(dir.path)/\(LatticeFrameStage.summaryFile), \(LatticeFrameStage.departuresFile), \(LatticeFrameStage.sitesFile), PNGs")
        }
    }
}
