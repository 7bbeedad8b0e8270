import Core
import DefectLibrary
import Dynamics
import Foundation
import MicroscopyIO
import Tracking

/// Writes OUT/report.html: the movie's story on one self-contained page, the place a
/// microscopist looks first: the movie frame by frame with atoms, defects and tracks, then
/// detection quality, the lattice, the defect library and the kinetics, in physical units.
struct ReportBuilder {
    let output: URL
    let summary: AnalysisSummary
    let config: AnalysisConfig
    let card: ModelCard
    /// The classes the atoms carry (`OutputClasses`).
    let classes: OutputClasses
    let calibration: Calibration
    /// Bytes the embedded movie may take before the viewer shows every k-th frame only.
    var frameBudgetBytes = 12_000_000

    /// What the stages hand to the report.
    struct Input {
        let movie: Movie
        let frames: Range<Int>
        /// The frames the movie viewer shows.
        let selection: FrameViewer.Selection
        let atoms: ReportAtoms
        let library: DefectClassLibrary
        let names: [String]
        let kinetics: Kinetics.Result
    }

    /// Reads what it needs of OUT/atoms.csv in one streamed pass (the analysis keeps no atoms, and
    /// a long movie's table is gigabytes) and writes report.html.
    func write(movie: Movie, frames: Range<Int>, library: DefectClassLibrary, names: [String], kinetics: Kinetics.Result) throws {
        let atomsPerFrame = Double(summary.atomsPerClass.values.reduce(0, +)) / Double(max(frames.count, 1))
        let selection = try FrameViewer.Selection(movie: movie, frames: frames, atomsPerFrame: atomsPerFrame,
                                                  budgetBytes: frameBudgetBytes, image: images)
        let atoms = try ReportAtoms(output.appendingPathComponent(AtomTable.fileName), table: AtomTable(classSymbols: classes.symbols, pixelSize: nil),
                                    frames: frames, frameCount: movie.frameCount, keeping: Set(selection.shown))
        try write(Input(movie: movie, frames: frames, selection: selection, atoms: atoms, library: library, names: names, kinetics: kinetics))
    }

    func write(_ input: Input) throws {
        var report = HTMLReport(title: "AtomTrack analysis — \(URL(fileURLWithPath: summary.movie).lastPathComponent)")
        let first = try input.movie.frame(input.frames.lowerBound)
        report.add(section: "Summary", body: overview())
        report.add(section: "Movie", body: try movieViewer(input))
        report.add(section: "Detection quality", body: detectionQuality(input))
        report.add(section: "Lattice FFT", body: try latticeFFT(first))
        if let voids = try voidsSection() { report.add(section: "Voids and holes", body: voids) }
        report.add(section: "Defect library", body: try libraryFigure(input.library, names: input.names))
        report.add(section: "Trajectories", body: try trajectoriesFigure(first, kinetics: input.kinetics, names: input.names))
        report.add(section: "Diffusion", body: diffusionFigure(input.kinetics, names: input.names, firstAtoms: input.atoms.atoms(frame: input.frames.lowerBound)))
        report.add(section: "Transitions between defect classes", body: markovFigure(input.kinetics, names: input.names))
        report.add(section: "Drift", body: driftFigure(input.kinetics))
        report.add(section: "Parameters", body: parameters())
        try AtomicFile.writeText(report.html, to: output.appendingPathComponent("report.html"))
    }

    // MARK: - units

    var pixelSize: Double { calibration.pixelSize }
    /// Without a frame time nothing is labelled per second: times stay in frames.
    var frameTimeKnown: Bool { calibration.frameTimeSource != .assumed }
    var timeUnit: String { frameTimeKnown ? "s" : "frames" }
    func time(frames: Double) -> Double { frameTimeKnown ? frames * calibration.frameTime : frames }
    /// px²/frame → Å²/s (or Å²/frame).
    var diffusionScale: Double { pixelSize * pixelSize / (frameTimeKnown ? calibration.frameTime : 1) }
    var diffusionUnit: String { "Å²/\(frameTimeKnown ? "s" : "frame")" }
    var pixelSizeNote: String { calibration.pixelSizeSource == .model || calibration.pixelSizeSource == .assumed ? " (assumed pixel size)" : "" }

    func scaleBar(width: Int) -> (pixels: Double, label: String) {
        let bar = FrameViewer.ScaleBar(widthPixels: width, pixelSize: pixelSize)
        return (bar.pixels, bar.label)
    }

    func stateName(_ k: Int, _ names: [String]) -> String { names.indices.contains(k) ? names[k] : "D\(k)" }
    func stateColor(_ k: Int) -> String { SVGPlot.palette[k % SVGPlot.palette.count] }
    func atomColor(_ c: Int) -> String { Overlay.hexColors[c % Overlay.hexColors.count] }
    var images: ReportImage { ReportImage() }
    /// The atom classes (the last class is the background).
    var atomClasses: Range<Int> { classes.atomClasses }

    // MARK: - sections

    func overview() -> String {
        let s = summary
        var rows: [(String, String)] = [
            ("movie", s.movie), ("frames", "\(s.frames) of \(s.width)×\(s.height) px"),
            ("pixel size", String(format: "%.4f Å (%@)", s.pixelSizeA, s.pixelSizeSource)),
            ("frame time", frameTimeKnown ? "\(calibration.frameTime) s (\(s.frameTimeSource))" : "unknown: times in frames, D in Å²/frame (give --frame-time)"),
            ("model", "\(card.name) (\(s.model))"),
        ]
        rows += s.atomsPerClass.sorted { $0.key < $1.key }.map { ("atoms \($0.key)", "\($0.value) (\(String(format: "%.1f", Double($0.value) / Double(max(s.frames, 1)))) per frame)") }
        rows += [("defect instances", "\(s.defects) in \(s.defectClasses.count) classes (k chosen by BIC = \(s.bicChosenK))"),
                 ("defect tracks", "\(s.tracks) with ≥ \(config.kinetics.minTrackLength) frames")]
        for d in s.diffusion {
            let k = diffusionScale
            rows.append(("D \(d.state)", String(format: "%.4g %@ [%.4g, %.4g] (%.4g px²/frame), %d tracks", (d.dPx2PerFrame ?? .nan) * k, diffusionUnit,
                                                (d.ciLowPx2PerFrame ?? .nan) * k, (d.ciHighPx2PerFrame ?? .nan) * k, d.dPx2PerFrame ?? .nan, d.tracks)))
        }
        return HTMLReport.table(rows)
    }

    func movieViewer(_ input: Input) throws -> String {
        let labels = input.library.classification.labels
        let defects = input.library.defects.indices.map { i in
            (frame: input.library.defects[i].frame, x: input.library.defects[i].x, y: input.library.defects[i].y, c: labels[i])
        }
        let tracks = input.kinetics.longTracks(minLength: config.kinetics.minTrackLength)
        var viewer = try FrameViewer.make(movie: input.movie, selection: input.selection, atoms: input.atoms.atoms(frame:), defects: defects,
                                          tracks: tracks, image: images)
        viewer.atomLabels = atomClasses.map { classes.symbols[$0] }
        viewer.atomColors = atomClasses.map(atomColor)
        viewer.stateLabels = input.names
        viewer.stateColors = input.names.indices.map(stateColor)
        viewer.atomRadius = max(1.2, 0.15 * card.columnSpacingPixels(pixelSize: pixelSize))
        viewer.scaleBar = FrameViewer.ScaleBar(widthPixels: input.movie.width, pixelSize: pixelSize)
        let shown = viewer.stride == 1 ? "all \(viewer.frames.count) frames"
            : "every \(viewer.stride)th frame (\(viewer.frames.count) of \(viewer.movieFrames), to keep the page under \(frameBudgetBytes / 1_000_000) MB)"
        let caption = "Showing \(shown). Slider, ← → (PgUp/PgDn: 10 frames, Home/End) or play. Thin rings: atoms by class; "
            + "thick rings: defects by class; lines: each defect track up to the shown frame, coloured by its class at each step "
            + "(positions as detected, drift not removed). Scale bar\(pixelSizeNote)."
        return viewer.html + "<p class=\"caption\">\(SVGPlot.escape(caption))</p>\n"
    }

    func detectionQuality(_ input: Input) -> String {
        let frames = Array(input.frames), x = frames.map(Double.init)
        let perClass = atomClasses.map { c in
            SVGPlot.Series(label: classes.symbols[c], x: x, y: frames.map { Double(input.atoms.count(frame: $0, classIndex: c)) },
                           color: atomColor(c), markers: false)
        }
        let score = SVGPlot.Series(label: "mean score", x: x, y: frames.map(input.atoms.meanScore(frame:)), color: SVGPlot.palette[0], markers: false)
        let defects = input.library.classes.map { c in
            SVGPlot.Series(label: stateName(c.id, input.names), x: x, y: frames.map { c.countsPerFrame.indices.contains($0) ? Double(c.countsPerFrame[$0]) : 0 },
                           color: stateColor(c.id), markers: false)
        }
        return "<div class=\"row\">"
            + figure(SVGPlot.lineChart(perClass, title: "Atoms per frame", xLabel: "frame", yLabel: "atoms"),
                     caption: "Atoms found in each frame, per class; a dip marks a frame the model read badly (blur, contamination, flyback).")
            + figure(SVGPlot.lineChart([score], title: "Detection score per frame", xLabel: "frame", yLabel: "mean class probability (0–1)"),
                     caption: "Mean of the atoms' scores (mean class probability over their pixels).")
            + figure(SVGPlot.lineChart(defects, title: "Defects per frame", xLabel: "frame", yLabel: "defects"),
                     caption: "Classified defects in each frame, per class.")
            + "</div>"
    }

    /// Log power spectrum of the central power-of-two square of the first frame, shown out to
    /// about three times the first-order lattice spots (the rest is noise up to Nyquist).
    func latticeFFT(_ frame: GrayImage) throws -> String {
        let size = ReportStatistics.powerOfTwo(atMost: min(min(frame.width, frame.height), 512))
        guard size >= 16 else { return "<p>Frame too small for an FFT.</p>" }
        let power = ReportStatistics.logPowerSpectrum(frame.pixels, width: frame.width, height: frame.height, size: size)
        // First-order spots of a hexagonal lattice: 1/(column spacing · cos 30°), in FFT pixels = k · size · pixel size.
        let spot = 1 / (card.columnSpacingPixels(pixelSize: pixelSize) * pixelSize * 3.0.squareRoot() / 2)
        let half = min(size / 2, max(8, Int((3 * spot * Double(size) * pixelSize).rounded(.up))))
        var crop: [Float] = []
        for y in (size / 2 - half)..<(size / 2 + half) {
            let row = y * size + size / 2
            crop += power[(row - half)..<(row + half)]
        }
        let url = try images.gray(crop, width: 2 * half, height: 2 * half, low: 50, high: 99.95)
        let edge = Double(half) / (Double(size) * pixelSize)
        let range = String(format: "±%.3f Å⁻¹ (Nyquist %.3f Å⁻¹)", edge, 1 / (2 * pixelSize)), expected = String(format: "%.3f Å⁻¹", spot)
        let caption = "log₁₀ power spectrum of the central \(size)×\(size) px of frame \(config.firstFrame) (Hann window), zero frequency "
            + "at the centre, shown out to \(range)\(pixelSizeNote). First-order lattice spots expected at \(expected) from the column "
            + "spacing; sharp spots = a well-ordered lattice, spots off that radius = a wrong pixel size."
        return figure("<img alt=\"lattice FFT\" width=\"360\" height=\"360\" style=\"image-rendering:pixelated\" src=\"\(url)\">", caption: caption)
    }

    func libraryFigure(_ library: DefectClassLibrary, names: [String]) throws -> String {
        let n = library.cropSize * library.cropSize
        let means = library.classes.map { Array($0.meanCrop.prefix(n)) }
        let total = Float(max(library.classes.map(\.count).reduce(0, +), 1))
        let grand = (0..<n).map { p in zip(library.classes, means).reduce(Float(0)) { $0 + Float($1.0.count) * $1.1[p] } / total }
        var cells = ""
        for (c, mean) in zip(library.classes, means) where mean.count == n {
            let difference = zip(mean, grand).map { $0 - $1 }
            let span = max(difference.map(abs).max() ?? 0, 1e-6)
            let mosaic = try library.mosaic(classID: c.id)
            let name = stateName(c.id, names)
            cells += "<figure><img alt=\"mean of \(name)\" width=\"120\" style=\"image-rendering:pixelated\" src=\"\(try images.gray(mean, width: library.cropSize, height: library.cropSize, low: 0.5, high: 99.5))\"> "
                + "<img alt=\"\(name) minus the mean of all classes\" width=\"120\" style=\"image-rendering:pixelated\" src=\"\(try images.gray(difference, width: library.cropSize, height: library.cropSize, range: (-span, span)))\"> "
                + "<img alt=\"members of \(name)\" width=\"240\" style=\"image-rendering:pixelated\" src=\"\(try images.gray(mosaic.pixels, width: mosaic.width, height: mosaic.height))\">"
                + "<figcaption><b style=\"color:\(stateColor(c.id))\">\(name)</b>: \(c.count) instances (\(String(format: "%.1f", 100 * Double(c.count) / Double(max(library.defects.count, 1)))) %); "
                + "mean crop (own contrast), mean minus the mean of all classes (gray = same, white = brighter), members</figcaption></figure>\n"
        }
        let rows = library.classification.selection.rows
        let bic = SVGPlot.lineChart([
            .init(label: "BIC", x: rows.map { Double($0.components) }, y: rows.map(\.bic), color: SVGPlot.palette[0]),
            .init(label: "AIC", x: rows.map { Double($0.components) }, y: rows.map(\.aic), color: SVGPlot.palette[1], dashed: true),
        ], title: "Model choice", xLabel: "mixture components k", yLabel: "criterion (lower is better)")
        return "<div class=\"row\">\(cells)</div><div class=\"row\">"
            + figure(bic, caption: String(format: "Gaussian mixture on %@ of the defect crops (%.1f Å wide; rotation-aware: %@); k = %d by BIC.",
                                          library.classification.sites != nil ? "the intensities at the centre and the neighbouring lattice sites" : "PCA features",
                                          Double(library.cropSize) * pixelSize, "\(config.defects.rotationAware)", library.classification.selection.bestByBIC))
            + pcaScatter(library, names: names) + "</div>"
    }

    func pcaScatter(_ library: DefectClassLibrary, names: [String]) -> String {
        let f = library.classification.features, labels = library.classification.labels
        guard f.columns >= 2, f.rows == labels.count else { return "<p>Fewer than two PCA components: no scatter.</p>" }
        let explained = library.classification.pca.explainedVarianceRatio
        func axis(_ k: Int) -> String {
            // Site-intensity features: the centre, then the sites from the weakest up.
            if library.classification.sites != nil { return k == 0 ? "centre intensity" : "weakest neighbour site" }
            return explained.indices.contains(k) ? String(format: "PC%d (%.0f %% of variance)", k + 1, 100 * explained[k]) : "PC\(k + 1)"
        }
        let groups = library.classes.map { c in
            let rows = labels.indices.filter { labels[$0] == c.id }
            return (label: stateName(c.id, names), x: rows.map { f.values[$0 * f.columns] }, y: rows.map { f.values[$0 * f.columns + 1] }, color: stateColor(c.id))
        }
        if library.classification.sites != nil {
            return figure(SVGPlot.scatter(groups, title: "Defect crops by site intensity", xLabel: axis(0), yLabel: axis(1)),
                          caption: "Every defect crop's intensity at its centre and at its weakest neighbouring lattice site (two of the library's features), coloured by its class.")
        }
        return figure(SVGPlot.scatter(groups, title: "Defect crops in PCA space", xLabel: axis(0), yLabel: axis(1)),
                      caption: "Every defect crop (aligned to its class's orientation) on the first two principal components, coloured by its class.")
    }

    /// Drift-corrected tracks are in the first frame's coordinates, so they are drawn on it;
    /// each step takes the colour of the class the defect had at its start.
    func trajectoriesFigure(_ first: GrayImage, kinetics: Kinetics.Result, names: [String]) throws -> String {
        let tracks = kinetics.longTracks(minLength: config.kinetics.minTrackLength)
        let url = try images.rgb(Overlay.gray(first.pixels, width: first.width, height: first.height))
        var lines: [(color: String, points: [(x: Double, y: Double)])] = []
        for t in tracks {
            var start = 0
            for i in t.points.indices.dropFirst() where t.points[i].classLabel != t.points[start].classLabel || i == t.points.count - 1 {
                lines.append((stateColor(t.points[start].classLabel), t.points[start...i].map { ($0.xCorrected, $0.yCorrected) }))
                start = i
            }
        }
        let states = Set(tracks.flatMap { $0.points.map(\.classLabel) }).sorted()
        let layers = states.map { k in
            (label: stateName(k, names), color: stateColor(k),
             points: tracks.flatMap { $0.points.filter { $0.classLabel == k }.map { (x: $0.xCorrected, y: $0.yCorrected) } }, radius: 1.2)
        }
        return figure(SVGPlot.overlay(imageDataURL: url, imageWidth: first.width, imageHeight: first.height, title: "trajectories",
                                      layers: layers, polylines: lines, scaleBar: scaleBar(width: first.width)),
                      caption: "\(tracks.count) drift-corrected defect tracks over the first frame, coloured by class along their path (a colour change = a class change; dots: positions, counted in the legend).")
    }

    func diffusionFigure(_ k: Kinetics.Result, names: [String], firstAtoms: [FrameAtom]) -> String {
        guard !k.diffusion.isEmpty else { return "<p>No track long enough for diffusion.</p>" }
        let p2 = pixelSize * pixelSize
        var series: [SVGPlot.Series] = []
        for d in k.diffusion {
            let name = stateName(d.classLabel, names), color = stateColor(d.classLabel)
            let points = ReportStatistics.msdWithErrors(d.msd)
            let t = points.map { time(frames: Double($0.lag)) }
            series.append(.init(label: "\(name) MSD ± SE", x: t, y: points.map { $0.msd * p2 },
                                errorLow: points.map { ($0.msd - $0.standardError) * p2 }, errorHigh: points.map { ($0.msd + $0.standardError) * p2 }, color: color))
            if let fit = d.msdFit {
                let lags = points.prefix(max(fit.points, 2)).map { Double($0.lag) }
                series.append(.init(label: "\(name) fit 4Dt+4σ² (\(fit.points) lags)", x: ([0] + lags).map { time(frames: $0) },
                                    y: ([0] + lags).map { (4 * fit.D * $0 + 4 * fit.sigma * fit.sigma) * p2 }, color: color, dashed: true, markers: false))
            }
        }
        let chart = SVGPlot.lineChart(series, title: "Mean squared displacement", xLabel: "lag (\(timeUnit))", yLabel: "MSD (Å²)")
        let table = HTMLReport.table(header: ["class", "tracks", "steps", "D (\(diffusionUnit))", "95 % CI", "D from MSD fit", "σ (Å)"], rows: k.diffusion.map { d in
            [stateName(d.classLabel, names), "\(d.tracks)", "\(d.steps)", String(format: "%.4g", d.cve.D * diffusionScale),
             String(format: "[%.4g, %.4g]", d.ciLow * diffusionScale, d.ciHigh * diffusionScale),
             d.msdFit.map { String(format: "%.4g", $0.D * diffusionScale) } ?? "—", String(format: "%.3f", max(0, d.cve.sigmaSquared).squareRoot() * pixelSize)]
        })
        return "<div class=\"row\">" + figure(chart, caption: "Drift-corrected MSD per defect class (Å\(pixelSizeNote)) with its standard error MSD/√N (N = non-overlapping displacements); lags with N < \(ReportStatistics.minIndependentDisplacements) are left out. Dashed: least-squares fit over the first lags (Michalet's rule).")
            + stepFigures(k, names: names, firstAtoms: firstAtoms) + "</div>" + table
            + "<p class=\"caption\">D: covariance-based estimator on runs cut at class changes, with a 95 % bootstrap interval over tracks (diffusion.csv): the cross-check of the joint HMM below.</p>"
            + hmmTable()
    }

    /// The joint HMM's per-state estimates with their bootstrap intervals (markov.json "hmm").
    func hmmTable() -> String {
        guard let states = summary.hmmStates, !states.isEmpty else {
            return "<p>Joint HMM: \(SVGPlot.escape(summary.hmmNote ?? "not fitted"))</p>"
        }
        func ci(_ v: Double?, _ lo: Double?, _ hi: Double?) -> String {
            guard let v else { return lo.map { String(format: "> %.4g", $0) } ?? "—" }   // a dwell time never ended: its bound
            return String(format: "%.4g [%.4g, %.4g]", v, lo ?? .nan, hi ?? .nan)
        }
        let rows = states.map { s in
            [s.name, String(format: "%.0f", s.frames), s.note ?? ci(s.D, s.DLow, s.DHigh) + " " + s.unitD,
             ci(s.hopRate, s.hopRateLow, s.hopRateHigh) + " " + s.unitRate, ci(s.dwell, s.dwellLow, s.dwellHigh) + " " + s.unitTime]
        }
        return "<h3>Joint hidden Markov model</h3>" + HTMLReport.table(header: ["state", "frames", "D (95 % CI)", "hop rate", "dwell time"], rows: rows)
            + "<p class=\"caption\">Hidden state = the defect's true class, fitted over whole tracks from the classifier's evidence and the lattice hops (Baum–Welch; intervals: bootstrap over track blocks, refitted per resample).</p>"
    }

    /// Step-size histogram per class and a rose of hop directions against the lattice.
    func stepFigures(_ k: Kinetics.Result, names: [String], firstAtoms: [FrameAtom]) -> String {
        let steps = ReportStatistics.steps(k.longTracks(minLength: config.kinetics.minTrackLength).map(DiffusionTrack.init))
        guard !steps.isEmpty else { return "" }
        let lengths = steps.map { $0.length * pixelSize }
        let top = max((lengths.max() ?? 0) * 1.02, 1e-3), bins = 30
        let edges = (0...bins).map { top * Double($0) / Double(bins) }
        let states = Set(steps.map(\.state)).sorted()
        let groups = states.map { s in
            (label: stateName(s, names), counts: ReportStatistics.histogram(steps.filter { $0.state == s }.map { $0.length * pixelSize }, low: 0, high: top, bins: bins), color: stateColor(s))
        }
        let spacing = card.columnSpacingPixels(pixelSize: pixelSize)
        let hops = steps.filter { $0.length > 0.5 * spacing }.map { $0.angle < 0 ? $0.angle + 2 * .pi : $0.angle }
        let host = atomClasses.max { a, b in firstAtoms.filter { $0.classIndex == a }.count < firstAtoms.filter { $0.classIndex == b }.count } ?? 0
        let bonds = ReportStatistics.bondAngles(firstAtoms.filter { $0.classIndex == host }.map { (x: $0.x, y: $0.y) })
        let sixfold = atan2(bonds.map { sin(6 * $0) }.reduce(0, +), bonds.map { cos(6 * $0) }.reduce(0, +)) / 6
        let spokes = bonds.isEmpty ? [] : (0..<6).map { sixfold + Double($0) * .pi / 3 }
        return figure(SVGPlot.histogram(edges: edges, groups: groups, title: "Step sizes (one frame)", xLabel: "step length (Å)"),
                      caption: "Drift-corrected one-frame step lengths by the class at the step's start: a peak near 0 (localization error) and one near the hop length.")
            + figure(SVGPlot.rose(counts: ReportStatistics.histogram(hops, low: 0, high: 2 * .pi, bins: 36), spokes: spokes,
                                  title: "Hop directions", caption: "0° = image x, 90° = image y (down)", color: SVGPlot.palette[2]),
                     caption: "Directions of the \(hops.count) steps longer than half a column spacing; gray spokes: the lattice directions (nearest \(atomClasses.contains(host) ? classes.symbols[host] : "") neighbours in the first frame, 6-fold).")
    }

    func markovFigure(_ k: Kinetics.Result, names: [String]) -> String {
        let tracks = k.longTracks(minLength: config.kinetics.minTrackLength)
        let dwell = dwellFigure(tracks, names: names) + hmmDwellFigure(k, tracks: tracks, names: names)
            + timescalesFigure(tracks, names: names, hmm: k.hmm)
        guard let m = k.markov else { return "<p>\(SVGPlot.escape(k.markovNote ?? "No Markov model."))</p><div class=\"row\">\(dwell)</div>" }
        let active = m.activeStateNames
        let t = m.transitionMatrix.rows, c = m.counts.rows
        var text = t.indices.map { i in t[i].indices.map { j in String(format: "%.3f\nn=%.0f", t[i][j], c[i][j]) } }
        if let u = k.markovUncertainty {
            let lo = u.transitionLow.rows, hi = u.transitionHigh.rows
            text = t.indices.map { i in t[i].indices.map { j in String(format: "%.3f\n[%.2f,%.2f]\nn=%.0f", t[i][j], lo[i][j], hi[i][j], c[i][j]) } }
        }
        let heat = SVGPlot.heatMap(t, rowLabels: active.map { "from \($0)" }, columnLabels: active.map { "to \($0)" },
                                   title: "Transition matrix at lag \(m.lag) frame(s)", cellText: text, cell: 86)
        let timescales = (try? m.timescales()) ?? []
        var rows: [(String, String)] = [("stationary distribution", zip(active, m.stationary).map { "\($0)=\(String(format: "%.3f", $1))" }.joined(separator: ", "))]
        rows += timescales.enumerated().map { ("implied timescale \($0 + 1)", frameTimeKnown ? String(format: "%.3g frames = %.3g s", $1, $1 * calibration.frameTime) : String(format: "%.3g frames", $1)) }
        if !m.excludedStates.isEmpty { rows.append(("left out (not connected)", m.excludedStates.map { m.stateNames[$0] }.joined(separator: ", "))) }
        return "<div class=\"row\">" + figure(heat, caption: "Maximum-likelihood transition probabilities between defect classes along the tracks (row = from; 95 % bootstrap interval over tracks; n = counts).")
            + dwell + "</div>" + HTMLReport.table(rows)
    }

    /// Dwell times per class with the exponential of the same mean (a memoryless class change).
    func dwellFigure(_ tracks: [Track], names: [String]) -> String {
        let dwell = ReportStatistics.dwellTimes(tracks.map(DiffusionTrack.init))
        guard let longest = dwell.values.flatMap({ $0 }).max() else { return "<p>No class change observed: no dwell times.</p>" }
        let width = max(1, (longest + 29) / 30), bins = (longest + width) / width
        let edges = (0...bins).map { time(frames: Double($0 * width) + 0.5) }
        var groups: [(label: String, counts: [Int], color: String)] = [], curves: [SVGPlot.Series] = []
        for (s, d) in dwell.sorted(by: { $0.key < $1.key }) {
            let mean = Double(d.reduce(0, +)) / Double(d.count), q = 1 / mean
            groups.append((stateName(s, names) + " (\(d.count))", ReportStatistics.histogram(d.map { Double($0) }, low: 0.5, high: Double(bins * width) + 0.5, bins: bins), stateColor(s)))
            // Geometric (discrete exponential) with the observed mean, as expected counts per bin.
            let x = (1...(bins * width)).map(Double.init)
            curves.append(.init(label: String(format: "%@ exp, τ = %.3g %@", stateName(s, names), time(frames: mean), timeUnit),
                                x: x.map { time(frames: $0) }, y: x.map { Double(d.count) * Double(width) * q * pow(1 - q, $0 - 1) },
                                color: stateColor(s), dashed: true, markers: false))
        }
        return figure(SVGPlot.histogram(edges: edges, groups: groups, curves: curves, title: "Dwell times", xLabel: "time in a class before changing (\(timeUnit))"),
                      caption: "Frames a defect stays in a class before it changes class (runs ended by the track's end are censored and left out); dashed: the exponential with the same mean.")
    }

    /// Dwell times of the joint HMM's Viterbi states against the fitted exponential (geometric:
    /// P(dwell = n) = (1 − T_kk)·T_kkⁿ⁻¹, scaled to the observed runs).
    func hmmDwellFigure(_ k: Kinetics.Result, tracks: [Track], names: [String]) -> String {
        guard let fit = k.hmm else { return "" }
        let viterbi = tracks.compactMap { t in k.hmmPaths[t.id].map { DiffusionTrack(frames: t.points.map(\.frame), x: [], y: [], classes: $0) } }
        let dwell = ReportStatistics.dwellTimes(viterbi)
        guard let longest = dwell.values.flatMap({ $0 }).max() else { return "" }
        let hidden = HMMReport.stateNames(fit, classNames: names)
        let width = max(1, (longest + 29) / 30), bins = (longest + width) / width
        let edges = (0...bins).map { time(frames: Double($0 * width) + 0.5) }
        var groups: [(label: String, counts: [Int], color: String)] = [], curves: [SVGPlot.Series] = []
        for (s, d) in dwell.sorted(by: { $0.key < $1.key }) {
            let stay = fit.model.transition[s][s], q = 1 - stay, x = (1...(bins * width)).map(Double.init)
            let name = hidden.indices.contains(s) ? hidden[s] : "state \(s)"
            groups.append((name + " (\(d.count))", ReportStatistics.histogram(d.map { Double($0) }, low: 0.5, high: Double(bins * width) + 0.5, bins: bins), stateColor(s)))
            curves.append(.init(label: String(format: "%@ fitted, τ = %.3g %@", name, time(frames: fit.states[s].dwellFrames), timeUnit),
                                x: x.map { time(frames: $0) }, y: x.map { Double(d.count) * Double(width) * q * pow(stay, $0 - 1) },
                                color: stateColor(s), dashed: true, markers: false))
        }
        return figure(SVGPlot.histogram(edges: edges, groups: groups, curves: curves, title: "Dwell times, joint HMM", xLabel: "time in a hidden state (\(timeUnit))"),
                      caption: "Runs of the Viterbi state sequence (censored runs at track ends left out); dashed: the exponential the HMM fitted, mean 1/(1 − T_kk) (markov.json \"hmm\" has its interval). Short tracks censor long runs, so the histogram falls faster than the fit when tracks are short.")
    }

    /// Implied timescales against lag: flat where the Markov model is valid; the joint HMM's
    /// timescales (lag 1, with their bootstrap interval) as horizontal lines to compare.
    func timescalesFigure(_ tracks: [Track], names: [String], hmm: DefectHMMFit? = nil) -> String {
        let maxLag = min(10, (tracks.map(\.points.count).max() ?? 0) / 2)
        guard maxLag >= 2, let trajectories = try? tracks.map({ try StateTrajectory(frames: $0.points.map(\.frame), states: $0.points.map(\.classLabel)) }),
              let points = try? MarkovEstimator(reversible: config.kinetics.reversible)
                .impliedTimescales(trajectories, stateCount: names.count, lags: Array(1...maxLag)) else { return "" }
        let valid = points.filter { $0.failure == nil }
        let processes = valid.map(\.timescales.count).max() ?? 0
        var series = (0..<processes).map { i in
            let at = valid.filter { $0.timescales.count > i && $0.timescales[i].isFinite }
            return SVGPlot.Series(label: "t\(i + 1)", x: at.map { time(frames: Double($0.lag)) }, y: at.map { time(frames: $0.timescales[i]) },
                                  color: SVGPlot.palette[i % SVGPlot.palette.count])
        }
        if let fit = hmm {
            let lags = [1.0, Double(maxLag)].map { time(frames: $0) }
            for (i, t) in fit.timescales.enumerated() where t.isFinite {
                let color = SVGPlot.palette[i % SVGPlot.palette.count]
                series.append(.init(label: String(format: "HMM t%d = %.3g %@", i + 1, time(frames: t), timeUnit), x: lags, y: [t, t].map { time(frames: $0) },
                                    color: color, dashed: true, markers: false))
                if let ci = fit.intervals?.timescales[i] {
                    for (edge, v) in [("low", ci.low), ("high", ci.high)] where v.isFinite {
                        series.append(.init(label: "HMM t\(i + 1) 95 % CI \(edge)", x: lags, y: [v, v].map { time(frames: $0) }, color: color, dashed: true, markers: false))
                    }
                }
            }
        }
        series.append(.init(label: "t = lag (unresolved below)", x: (1...maxLag).map { time(frames: Double($0)) }, y: (1...maxLag).map { time(frames: Double($0)) },
                            color: "#999", dashed: true, markers: false))
        return figure(SVGPlot.lineChart(series, title: "Implied timescales", xLabel: "lag τ (\(timeUnit))", yLabel: "implied timescale (\(timeUnit))"),
                      caption: "−τ / ln|λᵢ(τ)| of the counting model on the per-frame classes at each lag; a Markovian model gives a flat line. Dashed: the joint HMM's implied timescales at lag 1 and their 95 % bootstrap interval (misclassified frames pull the counting estimate down at short lags).")
    }

    func driftFigure(_ k: Kinetics.Result) -> String {
        let d = k.atomTracks.drift
        guard !d.isEmpty else { return "<p>No drift estimate.</p>" }
        let t = d.map { time(frames: Double($0.frame)) }
        let chart = SVGPlot.lineChart([
            .init(label: "dx", x: t, y: d.map { $0.dx * pixelSize }, color: SVGPlot.palette[0], markers: false),
            .init(label: "dy", x: t, y: d.map { $0.dy * pixelSize }, color: SVGPlot.palette[1], markers: false),
        ], title: "Cumulative drift (from the whole lattice)", xLabel: frameTimeKnown ? "time (s)" : "frame", yLabel: "drift (Å)")
        return figure(chart, caption: "Rigid drift estimated by linking every atom frame to frame\(pixelSizeNote); trajectories and MSDs are corrected for it (drift.csv holds it in px).")
    }

    func parameters() -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let json = (try? e.encode(config)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        return "<p>Repeat this run with <code>atomtrack analyze --config config.json</code>.</p><pre>\(SVGPlot.escape(json))</pre>"
            + HTMLReport.table(summary.secondsPerStage.sorted { $0.key < $1.key }.map { ("time: \($0.key)", String(format: "%.1f s", $0.value)) })
    }

    func figure(_ svg: String, caption: String) -> String {
        "<figure>\(svg)<figcaption>\(SVGPlot.escape(caption))</figcaption></figure>\n"
    }
}
