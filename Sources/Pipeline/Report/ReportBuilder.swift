import DefectLibrary
import Dynamics
import Foundation
import MicroscopyIO

/// Writes OUT/report.html: the movie's story on one self-contained page.
struct ReportBuilder {
    let output: URL
    let summary: AnalysisSummary
    let config: AnalysisConfig
    let card: ModelCard

    func write(firstFrame: [Float], width: Int, height: Int, firstAtoms: [FrameAtom],
               library: DefectClassLibrary, names: [String], kinetics: Kinetics.Result) throws {
        var report = HTMLReport(title: "AtomTrack analysis — \(URL(fileURLWithPath: summary.movie).lastPathComponent)")
        report.add(section: "Summary", body: overview())
        report.add(section: "Atoms in the first frame", body: try atomsFigure(firstFrame, width: width, height: height, atoms: firstAtoms))
        report.add(section: "Defect library", body: try libraryFigure(library, names: names))
        report.add(section: "Trajectories", body: try trajectoriesFigure(firstFrame, width: width, height: height, kinetics: kinetics, names: names))
        report.add(section: "Diffusion", body: diffusionFigure(kinetics, names: names))
        report.add(section: "Transitions between defect classes", body: try markovFigure(kinetics))
        report.add(section: "Drift", body: driftFigure(kinetics))
        report.add(section: "Parameters", body: parameters())
        try AtomicFile.writeText(report.html, to: output.appendingPathComponent("report.html"))
    }

    func overview() -> String {
        let s = summary
        var rows: [(String, String)] = [
            ("movie", s.movie), ("frames", "\(s.frames) of \(s.width)×\(s.height) px"),
            ("pixel size", String(format: "%.4f Å (%@)", s.pixelSizeA, s.pixelSizeSource)),
            ("frame time", s.frameTimeS.map { "\($0) s (\(s.frameTimeSource))" } ?? s.frameTimeSource), ("model", "\(card.name) (\(s.model))"),
        ]
        rows += s.atomsPerClass.sorted { $0.key < $1.key }.map { ("atoms \($0.key)", "\($0.value) (\(String(format: "%.1f", Double($0.value) / Double(max(s.frames, 1)))) per frame)") }
        rows += [("defect instances", "\(s.defects) in \(s.defectClasses.count) classes (k chosen by BIC = \(s.bicChosenK))"),
                 ("defect tracks", "\(s.tracks) with ≥ \(config.kinetics.minTrackLength) frames")]
        for d in s.diffusion {
            rows.append(("D \(d.state)", s.diffusionText(d)))
        }
        return HTMLReport.table(rows)
    }

    func atomsFigure(_ frame: [Float], width: Int, height: Int, atoms: [FrameAtom]) throws -> String {
        guard !frame.isEmpty else { return "<p>No frame.</p>" }
        let url = try pngDataURL(Overlay.gray(frame, width: width, height: height))
        let radius = max(2.0, 0.3 * card.columnSpacingPixels(pixelSize: summary.pixelSizeA)) * 520 / Double(width)
        let classes = Set(atoms.map(\.classIndex)).sorted()
        let layers = classes.map { c in
            (label: card.classes[c].symbol, color: Overlay.hexColors[c % Overlay.hexColors.count],
             points: atoms.filter { $0.classIndex == c }.map { (x: $0.x, y: $0.y) }, radius: radius)
        }
        return figure(SVGPlot.overlay(imageDataURL: url, imageWidth: width, imageHeight: height, title: "frame \(config.firstFrame)", layers: layers),
                      caption: "Frame \(config.firstFrame) with every detected atom circled in its class colour (atoms.csv holds all frames).")
    }

    func libraryFigure(_ library: DefectClassLibrary, names: [String]) throws -> String {
        var cells = ""
        for c in library.classes {
            let meanImage = try GrayImage(width: library.cropSize, height: library.cropSize,
                                          pixels: Array(c.meanCrop.prefix(library.cropSize * library.cropSize)))
            let mosaic = try library.mosaic(classID: c.id)
            let mosaicImage = try GrayImage(width: mosaic.width, height: mosaic.height, pixels: mosaic.pixels)
            cells += "<figure><img alt=\"mean of \(names[c.id])\" width=\"120\" style=\"image-rendering:pixelated\" src=\"\(try pngDataURL(meanImage))\"> "
                + "<img alt=\"members of \(names[c.id])\" width=\"240\" style=\"image-rendering:pixelated\" src=\"\(try pngDataURL(mosaicImage))\">"
                + "<figcaption><b>\(names[c.id])</b>: \(c.count) instances (\(String(format: "%.1f", 100 * Double(c.count) / Double(max(library.defects.count, 1)))) %); mean crop and members</figcaption></figure>\n"
        }
        let rows = library.classification.selection.rows
        let bic = SVGPlot.lineChart([
            .init(label: "BIC", x: rows.map { Double($0.components) }, y: rows.map(\.bic), color: SVGPlot.palette[0]),
            .init(label: "AIC", x: rows.map { Double($0.components) }, y: rows.map(\.aic), color: SVGPlot.palette[1], dashed: true),
        ], title: "Model choice", xLabel: "mixture components k", yLabel: "criterion (lower is better)")
        return "<div class=\"row\">\(cells)</div>" + figure(bic, caption: "Gaussian mixture on PCA features of the defect crops (rotation-aware: \(config.defects.rotationAware)); k = \(library.classification.selection.bestByBIC) by BIC.")
    }

    /// Drift-corrected tracks are in the first frame's coordinates, so they are drawn on it.
    func trajectoriesFigure(_ first: [Float], width: Int, height: Int, kinetics: Kinetics.Result, names: [String]) throws -> String {
        guard !first.isEmpty else { return "" }
        let url = try pngDataURL(Overlay.gray(first, width: width, height: height))
        let tracks = kinetics.defectTracks.tracks.filter { $0.points.count >= config.kinetics.minTrackLength }
        let lines = tracks.map { t in
            (color: Overlay.hexColors[(t.points.first?.classLabel ?? 0) % Overlay.hexColors.count],
             points: t.points.map { (x: $0.xCorrected, y: $0.yCorrected) })
        }
        let starts = Set(tracks.compactMap { $0.points.first?.classLabel }).sorted().map { c in
            (label: names.indices.contains(c) ? names[c] : "\(c)", color: Overlay.hexColors[c % Overlay.hexColors.count],
             points: tracks.filter { $0.points.first?.classLabel == c }.compactMap { $0.points.first }.map { (x: $0.xCorrected, y: $0.yCorrected) },
             radius: 3.0)
        }
        return figure(SVGPlot.overlay(imageDataURL: url, imageWidth: width, imageHeight: height, title: "trajectories",
                                      layers: starts, polylines: lines),
                      caption: "\(tracks.count) drift-corrected defect tracks over the first frame, coloured by the class at their start (circles).")
    }

    func diffusionFigure(_ k: Kinetics.Result, names: [String]) -> String {
        guard !k.diffusion.isEmpty else { return "<p>No track long enough for diffusion.</p>" }
        var series: [SVGPlot.Series] = []
        for (i, d) in k.diffusion.enumerated() {
            let name = names.indices.contains(d.classLabel) ? names[d.classLabel] : "\(d.classLabel)"
            let color = SVGPlot.palette[i % SVGPlot.palette.count]
            series.append(.init(label: "\(name) MSD", x: d.msd.map { Double($0.lag) }, y: d.msd.map(\.msd), color: color))
            let fit = d.msd.map { 4 * d.cve.D * Double($0.lag) + 4 * max(0, d.cve.sigmaSquared) }
            series.append(.init(label: "\(name) 4Dt+4σ²", x: d.msd.map { Double($0.lag) }, y: fit, color: color, dashed: true, markers: false))
        }
        let chart = SVGPlot.lineChart(series, title: "Mean squared displacement", xLabel: "lag (frames)", yLabel: "MSD (px²)")
        // Å²/s only with a known frame time; else Å²/frame.
        let toA2 = summary.pixelSizeA * summary.pixelSizeA / (summary.frameTimeS ?? 1)
        let table = HTMLReport.table(header: ["class", "tracks", "steps", "D (px²/frame)", "95 % CI", summary.frameTimeS == nil ? "D (Å²/frame)" : "D (Å²/s)", "σ (px)"], rows: k.diffusion.map { d in
            [names.indices.contains(d.classLabel) ? names[d.classLabel] : "\(d.classLabel)", "\(d.tracks)", "\(d.steps)",
             String(format: "%.4g", d.cve.D), String(format: "[%.4g, %.4g]", d.ciLow, d.ciHigh),
             String(format: "%.4g", d.cve.D * toA2), String(format: "%.3f", max(0, d.cve.sigmaSquared).squareRoot())]
        })
        return figure(chart, caption: "Drift-corrected MSD per defect class; dashed: the covariance estimator's D and σ (CI: bootstrap over tracks).") + table
    }

    func markovFigure(_ k: Kinetics.Result) throws -> String {
        guard let m = k.markov else { return "<p>\(SVGPlot.escape(k.markovNote ?? "No Markov model."))</p>" }
        let names = m.activeStateNames
        let t = m.transitionMatrix.rows, c = m.counts.rows
        var text = t.indices.map { i in t[i].indices.map { j in String(format: "%.3f\nn=%.0f", t[i][j], c[i][j]) } }
        if let u = k.markovUncertainty {
            let lo = u.transitionLow.rows, hi = u.transitionHigh.rows
            text = t.indices.map { i in t[i].indices.map { j in String(format: "%.3f\n[%.2f,%.2f]\nn=%.0f", t[i][j], lo[i][j], hi[i][j], c[i][j]) } }
        }
        let heat = SVGPlot.heatMap(t, rowLabels: names.map { "from \($0)" }, columnLabels: names.map { "to \($0)" },
                                   title: "Transition matrix at lag \(m.lag) frame(s)", cellText: text, cell: 86)
        let timescales = (try? m.timescales()) ?? []
        var rows: [(String, String)] = [("stationary distribution", zip(names, m.stationary).map { "\($0)=\(String(format: "%.3f", $1))" }.joined(separator: ", "))]
        rows += timescales.enumerated().map { i, t in
            ("implied timescale \(i + 1)", String(format: "%.3g frames", t) + (summary.frameTimeS.map { String(format: " = %.3g s", t * $0) } ?? ""))
        }
        if !m.excludedStates.isEmpty { rows.append(("left out (not connected)", m.excludedStates.map { m.stateNames[$0] }.joined(separator: ", "))) }
        return figure(heat, caption: "Maximum-likelihood transition probabilities between defect classes along the tracks (95 % bootstrap interval over tracks, counts n).")
            + HTMLReport.table(rows)
    }

    func driftFigure(_ k: Kinetics.Result) -> String {
        let d = k.atomTracks.drift
        guard !d.isEmpty else { return "<p>No drift estimate.</p>" }
        let chart = SVGPlot.lineChart([
            .init(label: "dx", x: d.map { Double($0.frame) }, y: d.map(\.dx), color: SVGPlot.palette[0], markers: false),
            .init(label: "dy", x: d.map { Double($0.frame) }, y: d.map(\.dy), color: SVGPlot.palette[1], markers: false),
        ], title: "Cumulative drift (from the whole lattice)", xLabel: "frame", yLabel: "drift (px)")
        return figure(chart, caption: "Rigid drift estimated by linking every atom frame to frame; trajectories and MSDs are corrected for it.")
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

    /// PNG bytes of an image as a data URL (encoded through a temp file; libpng writes files).
    func pngDataURL(_ image: RGBImage) throws -> String {
        let tmp = output.appendingPathComponent(".report-\(getpid()).png")
        defer { try? FileManager.default.removeItem(at: tmp) }
        try PNGFile.writeRGB(image, to: tmp)
        return HTMLReport.pngDataURL(try Data(contentsOf: tmp))
    }

    func pngDataURL(_ image: GrayImage) throws -> String {
        let tmp = output.appendingPathComponent(".report-\(getpid()).png")
        defer { try? FileManager.default.removeItem(at: tmp) }
        try PNGFile.writeGray(image, to: tmp, scaling: .minMax)
        return HTMLReport.pngDataURL(try Data(contentsOf: tmp))
    }
}
