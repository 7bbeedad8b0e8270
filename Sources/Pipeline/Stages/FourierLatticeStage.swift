import Core
import FourierLattice
import Foundation
import MicroscopyIO
import Simulation

/// `atomtrack lattice`: the Fourier lattice analysis of one frame (FourierLattice), with its files.
/// Everything that can be refused (movie, frame number, material, pixel size, a frame without a lattice)
/// is refused in `init`, before OUT exists.
public struct LatticeFrameStage {
    public static let summaryFile = "lattice.json", departuresFile = "departures.csv", sitesFile = "sites.csv"
    public static let markers = [summaryFile, departuresFile, sitesFile, "spectrum.png", "reconstruction.png", "departures.png"]

    public let analysis: LatticeAnalysis
    public let image: GrayImage
    public let summary: Summary

    /// What `lattice.json` holds. Vectors in pixels (a1, a2) and cycles per pixel (g1, g2); the pixel size
    /// estimate is the material's lattice constant over the mean |a|.
    public struct Summary: Codable, Sendable {
        public var movie: String, frame: Int, material: String
        public var width: Int, height: Int
        public var a1: [Double], a2: [Double], g1: [Double], g2: [Double]
        public var angleDegrees: Double
        public var latticeConstantA: Double
        public var pixelSizeEstimateA: Double
        /// The pixel size used for the Å columns: flag, else file, else the estimate; and where it came from.
        public var pixelSizeA: Double
        public var pixelSizeSource: String
        public var braggPeaks: Int
        /// How clearly the second sublattice (S in WS2) stands out of the hollows in the frame folded into one cell (σ).
        public var sublatticeSignificance: Double
        public var sites: Int
        /// Number of departing sites per kind (e.g. "Mo_W": 3).
        public var departures: [String: Int]
    }

    public init(movie path: String, frame: Int, material name: String, pixelSize flag: Double?, signal: String? = nil) throws {
        try Calibration.checkFlags(pixelSize: flag)
        let material = try LatticeMaterial.named(name)
        let movie = try Movie.open(URL(fileURLWithPath: path), signal: signal)
        _ = try movie.frames(first: frame, count: 1, firstNamed: "--frame")
        image = try movie.frame(frame)
        analysis = try LatticeAnalysis(frame: image.pixels, width: image.width, height: image.height, material: material,
                                       pixelSize: flag ?? movie.pixelSizeA)
        let calibration = try Calibration.resolve(pixelSizeFlag: flag, pixelSizeFromFile: movie.pixelSizeA,
                                                  pixelSizeFromLattice: analysis.fit.pixelSize)
        let fit = analysis.fit
        var departures: [String: Int] = [:]
        for s in analysis.departures { departures[analysis.kind(of: s).name, default: 0] += 1 }
        summary = Summary(movie: path, frame: frame, material: material.name, width: image.width, height: image.height,
                          a1: [fit.a1.x, fit.a1.y], a2: [fit.a2.x, fit.a2.y], g1: [fit.g1.x, fit.g1.y], g2: [fit.g2.x, fit.g2.y],
                          angleDegrees: fit.angleDegrees, latticeConstantA: material.lattice.a,
                          pixelSizeEstimateA: fit.pixelSize, pixelSizeA: calibration.pixelSize,
                          pixelSizeSource: calibration.pixelSizeSource.rawValue, braggPeaks: fit.peaks.count,
                          sublatticeSignificance: analysis.sublatticeSignificance, sites: analysis.sites.count, departures: departures)
    }

    /// Writes lattice.json, departures.csv and sites.csv (`x,y,site,kind,contrast,x_A,y_A`), the log power
    /// spectrum, the reconstruction and the frame with its departures circled (colour per kind).
    public func write(to dir: URL) throws {
        try AtomicFile.writeJSON(summary, to: dir.appendingPathComponent(Self.summaryFile))
        try writeSites(analysis.departures, to: dir.appendingPathComponent(Self.departuresFile))
        try writeSites(analysis.sites, to: dir.appendingPathComponent(Self.sitesFile))
        let w = image.width, h = image.height
        let size = min(512, FFT.powerOfTwo(atLeast: min(w, h) + 1) / 2)
        let spectrum = ReportStatistics.logPowerSpectrum(image.pixels, width: w, height: h, size: size)
        try PNGFile.writeRGB(Overlay.gray(spectrum, width: size, height: size), to: dir.appendingPathComponent("spectrum.png"))
        try PNGFile.writeRGB(Overlay.gray(analysis.reconstruction, width: w, height: h), to: dir.appendingPathComponent("reconstruction.png"))
        let marks = analysis.departures.map { ($0.x, $0.y, $0.basis * 3 + $0.kind) }
        try PNGFile.writeRGB(Overlay.render(image.pixels, width: w, height: h, points: marks, radius: 0.3 * (length(analysis.fit.a1))),
                             to: dir.appendingPathComponent("departures.png"))
    }

    func writeSites(_ sites: [LatticeSite], to url: URL) throws {
        let p = summary.pixelSizeA
        let species = analysis.material.lattice
        let rows = sites.map { s -> [String] in
            [fmt(s.x), fmt(s.y), species.species(of: SiteKey(0, 0, s.basis)).symbol, analysis.kind(of: s).name,
             String(format: "%.3f", s.contrast), fmt(s.x * p), fmt(s.y * p)]
        }
        try AtomicFile.writeCSV(header: ["x", "y", "site", "kind", "contrast", "x_A", "y_A"], rows: rows, to: url)
    }

    func fmt(_ v: Double) -> String { String(format: "%.3f", v) }
    func length(_ v: Vec2) -> Double { (v * v).sum().squareRoot() }
}

/// `voids.csv` of `analyze`: per frame, the vacuum regions (holes with no lattice) and vacancy clusters
/// found by the Fourier lattice analysis, their areas (Å², from lattice sites: no pixel size needed) and
/// the vacuum area's growth rate. Frames are re-read one at a time after the frame loop, so the journal
/// and shards are untouched and memory stays flat.
public enum VoidTable {
    public static let fileName = "voids.csv"
    /// The columns; the growth is per second when the frame time is known, else per frame.
    public static func header(frameTimeKnown: Bool) -> [String] {
        ["frame", "lattice", "vacuum_regions", "vacuum_area_A2", "vacancy_clusters", "vacancy_cluster_area_A2",
         "single_vacancies", frameTimeKnown ? "vacuum_growth_A2_per_s" : "vacuum_growth_A2_per_frame"]
    }

    /// One frame's row; `voids` nil when the frame shows no lattice the analysis can fit.
    public struct Row: Sendable, Equatable {
        public var frame: Int
        public var voids: FrameVoids?
    }

    /// The material whose lattice the model's classes name (W → WS2, C → graphene), or nil.
    public static func material(forElements elements: [String]) -> LatticeMaterial? {
        if elements.contains("W") { return try? LatticeMaterial.named("ws2") }
        if elements.contains("C") { return try? LatticeMaterial.named("graphene") }
        return nil
    }

    /// Measures every frame of `frames`.
    public static func measure(_ movie: Movie, frames: Range<Int>, material: LatticeMaterial, pixelSize: Double?) throws -> [Row] {
        var pixels: [Float] = []
        return try frames.map { f in
            try movie.readFrame(f, into: &pixels)
            let analysis = try? LatticeAnalysis(frame: pixels, width: movie.width, height: movie.height, material: material, pixelSize: pixelSize)
            return Row(frame: f, voids: analysis.map(FrameVoids.init))
        }
    }

    /// Least-squares slope of y against x; nil below two distinct x.
    public static func slope(_ x: [Double], _ y: [Double]) -> Double? {
        guard x.count >= 2 else { return nil }
        let mx = x.reduce(0, +) / Double(x.count), my = y.reduce(0, +) / Double(y.count)
        let sxx = x.reduce(0) { $0 + ($1 - mx) * ($1 - mx) }
        return sxx > 0 ? zip(x, y).reduce(0) { $0 + ($1.0 - mx) * ($1.1 - my) } / sxx : nil
    }

    /// Writes voids.csv; growth per row = vacuum area change since the previous frame with a lattice / elapsed
    /// time (in frames when `frameTime` is nil).
    public static func write(_ rows: [Row], frameTime known: Double?, to url: URL) throws {
        let frameTime = known ?? 1
        var previous: (frame: Int, area: Double)?
        let table = rows.map { r -> [String] in
            guard let v = r.voids else { return ["\(r.frame)", "0", "", "", "", "", "", ""] }
            let growth = previous.map { String(format: "%.3f", (v.vacuumAreaA2 - $0.area) / (Double(r.frame - $0.frame) * frameTime)) } ?? ""
            previous = (r.frame, v.vacuumAreaA2)
            return ["\(r.frame)", "1", "\(v.vacuum.count)", String(format: "%.2f", v.vacuumAreaA2), "\(v.clusters.count)",
                    String(format: "%.2f", v.clusterAreaA2), "\(v.singleVacancies)", growth]
        }
        try AtomicFile.writeCSV(header: header(frameTimeKnown: known != nil), rows: table, to: url)
    }
}

extension Analysis {
    /// voids.csv for a movie of a material with a known lattice (WS2, graphene); other models write none.
    func writeVoids(_ inputs: Inputs) throws {
        guard config.voids else { return }
        guard let material = VoidTable.material(forElements: inputs.model.card.classes.flatMap(\.elements)) else { return }
        let rows = try VoidTable.measure(inputs.movie, frames: inputs.frames, material: material, pixelSize: inputs.calibration.pixelSize)
        let known = inputs.calibration.frameTimeSource != .assumed
        try VoidTable.write(rows, frameTime: known ? inputs.calibration.frameTime : nil, to: file(VoidTable.fileName))
    }
}
