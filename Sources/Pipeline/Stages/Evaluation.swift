import Core
import Foundation
import Localization
import MicroscopyIO
import Simulation

/// Scores a model's atoms against known positions: a simulator output folder
/// (`movie.tif` + `truth_atoms.csv`) or a folder of validation frames (`NAME.npy` +
/// `NAME_truth.csv` + `NAME.json`, noiseless; shot noise is applied at the chosen doses).
/// Matching is one-to-one per class within a radius (exact assignment); atoms within
/// `borderMargin` px of the frame edge are left out on both sides.
public struct ModelEvaluation {
    public struct Row: Codable, Sendable {
        public var dataset: String
        public var dose: Double?
        public var className: String
        public var truePositives: Int, falsePositives: Int, falseNegatives: Int
        public var precision: Double, recall: Double, f1: Double
        public var rmsePx: Double?
    }

    /// One frame with its truth, in model class indices.
    struct Item {
        var name: String
        var pixels: [Float]
        var width: Int, height: Int
        var pixelSize: Double?
        var truth: [ReferencePoint]
        /// Places (x, y) whose truth is unknown: atoms found within the match radius of one are not scored.
        var unscored: [(x: Double, y: Double)] = []
    }

    public let finder: AtomFinder
    public var borderMargin = 3.0
    /// Match radius as a fraction of the nearest column distance.
    public var radiusFraction = 0.4
    public init(finder: AtomFinder) { self.finder = finder }

    var card: ModelCard { finder.model.card }

    /// The classes scored: the finder's output classes (Mo apart from W unless merged), less the background.
    var scoredClassNames: [String] { Array(finder.outputClasses.symbols.dropLast()) }

    /// Class index for an element symbol of the truth tables.
    func classIndex(ofElement e: String) -> Int? { finder.outputClasses.classIndex(ofElement: e, card: card) }

    /// Evaluates every frame of `dir` (at each dose for noiseless validation frames).
    public func evaluate(directory dir: URL, doses: [Double], seed: UInt64 = 7, progress: Bool = true) throws -> [Row] {
        let fm = FileManager.default
        if fm.fileExists(atPath: dir.appendingPathComponent("truth_atoms.csv").path) {
            return try score(simulatorItems(dir), dataset: dir.lastPathComponent, dose: nil, progress: progress)
        }
        guard let listing = try? fm.contentsOfDirectory(atPath: dir.path) else {
            throw InputError("\(dir.path): no such folder (or not readable)")
        }
        let names = listing.filter { $0.hasSuffix("_truth.csv") }
            .map { String($0.dropLast("_truth.csv".count)) }.sorted()
        guard !names.isEmpty else {
            throw InputError("\(dir.path): holds neither truth_atoms.csv (simulator output) nor NAME_truth.csv files")
        }
        var rows: [Row] = []
        for name in names {
            let clean = try validationItem(dir, name: name)
            // A frame of another material (no atom of the model's classes) is not this model's test.
            guard !clean.truth.isEmpty else { continue }
            for dose in doses {
                var rng = SeededGenerator(seed: seed, index: Int(dose))
                var noisy = clean
                if let p = clean.pixelSize {
                    noisy.pixels = Noise.poisson(clean.pixels, dose: dose, pixelSize: p, rng: &rng)
                }
                rows += try score([noisy], dataset: name, dose: dose, progress: false)
            }
        }
        return rows
    }

    func simulatorItems(_ dir: URL) throws -> [Item] {
        let movie = try Movie.open(dir.appendingPathComponent(SimulationExport.movieFile))
        let table = try CSVTable(url: dir.appendingPathComponent("truth_atoms.csv"))
        let f = try table.column("frame"), x = try table.column("x"), y = try table.column("y"), c = try table.column("class")
        var perFrame = [[(Double, Double, String)]](repeating: [], count: movie.frameCount)
        for r in table.rows {
            guard let i = Int(r[f]), i >= 0, i < movie.frameCount, let px = Double(r[x]), let py = Double(r[y]) else {
                throw InputError("truth_atoms.csv: bad row \(r.joined(separator: ","))")
            }
            perFrame[i].append((px, py, r[c]))
        }
        return try (0..<movie.frameCount).map { i in
            let frame = try movie.frame(i)
            return Item(name: "frame \(i)", pixels: frame.pixels, width: frame.width, height: frame.height,
                        pixelSize: movie.pixelSizeA, truth: columns(perFrame[i]))
        }
    }

    func validationItem(_ dir: URL, name: String) throws -> Item {
        let image = try Movie.open(dir.appendingPathComponent(name + ".npy")).frame(0)
        let meta = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent(name + ".json"))) as? [String: Any]
        let pixelSize = meta?["pixel_size_A"] as? Double
        let table = try CSVTable(url: dir.appendingPathComponent(name + "_truth.csv"))
        let x = try table.column("x"), y = try table.column("y"), c = try table.column("class")
        let atoms = try table.rows.map { r -> (Double, Double, String) in
            guard let px = Double(r[x]), let py = Double(r[y]) else { throw InputError("\(name)_truth.csv: bad row \(r)") }
            return (px, py, r[c])
        }
        return Item(name: name, pixels: image.pixels, width: image.width, height: image.height,
                    pixelSize: pixelSize, truth: columns(atoms))
    }

    /// Atoms → columns in model classes: atoms of one class closer than half a pixel are one
    /// column at their mean position (an S2 column is listed as two S atoms, on the multislice
    /// frames 0.03–0.55 px apart: the image shows their mean); unknown elements are dropped.
    func columns(_ atoms: [(Double, Double, String)]) -> [ReferencePoint] {
        var out: [ReferencePoint] = [], members: [Int] = []
        for (x, y, e) in atoms {
            guard let c = classIndex(ofElement: e) else { continue }
            if let k = out.firstIndex(where: { $0.classIndex == c && abs($0.x - x) < 0.5 && abs($0.y - y) < 0.5 }) {
                // Running mean of the column's atoms.
                members[k] += 1
                out[k].x += (x - out[k].x) / Double(members[k]); out[k].y += (y - out[k].y) / Double(members[k])
                continue
            }
            out.append(ReferencePoint(x: x, y: y, classIndex: c)); members.append(1)
        }
        return out
    }

    func score(_ items: [Item], dataset: String, dose: Double?, progress: Bool) throws -> [Row] {
        try scoreWithColumns(items, dataset: dataset, dose: dose, progress: progress).rows
    }

    /// The rows, and per class the loss of each scored truth column (`columnLosses`), in item then truth order:
    /// the same columns for any model scored on the same items, so two models can be compared column by column.
    func scoreWithColumns(_ items: [Item], dataset: String, dose: Double?, progress: Bool) throws -> (rows: [Row], columnLosses: [[Double]]) {
        let names = scoredClassNames, classes = names.count
        var tp = [Int](repeating: 0, count: classes), fp = tp, fn = tp
        var squared = [Double](repeating: 0, count: classes)
        var losses = [[Double]](repeating: [], count: classes)
        let bar = ProgressBar("evaluate \(dataset)", total: items.count, quiet: !progress || items.count < 2)
        for item in items {
            let inside = { (x: Double, y: Double) in
                x >= self.borderMargin && y >= self.borderMargin
                    && x <= Double(item.width - 1) - self.borderMargin && y <= Double(item.height - 1) - self.borderMargin
            }
            let all = try finder.atoms(in: item.pixels, width: item.width, height: item.height, pixelSize: item.pixelSize)
            let radius = radiusFraction * card.columnSpacingPixels(pixelSize: item.pixelSize)
            let atoms = all.filter { a in
                inside(a.x, a.y) && !item.unscored.contains { pow($0.x - a.x, 2) + pow($0.y - a.y, 2) <= radius * radius }
            }
            // Truth just outside the margin may be found just inside it: keep a one-pixel band of
            // truth so such atoms are not counted as false positives.
            let truth = item.truth.filter { $0.x >= borderMargin - 1 && $0.y >= borderMargin - 1
                && $0.x <= Double(item.width) - borderMargin && $0.y <= Double(item.height) - borderMargin }
            let result = try evaluateDetections(atoms, reference: truth, radius: radius)
            let scoredColumns = truth.indices.filter { inside(truth[$0].x, truth[$0].y) && truth[$0].classIndex < classes }
            for (c, loss) in Self.columnLosses(truth: truth, scored: scoredColumns, atoms: atoms, matches: result.matches, radius: radius) {
                losses[c].append(loss)
            }
            for m in result.perClass {
                guard let c = m.classIndex, c < classes else { continue }
                // Truth atoms in the band that were not found are not misses.
                let bandMisses = truth.indices.filter { i in
                    truth[i].classIndex == c && !inside(truth[i].x, truth[i].y)
                        && !result.matches.contains { $0.reference == i }
                }.count
                tp[c] += m.truePositives; fp[c] += m.falsePositives; fn[c] += m.falseNegatives - bandMisses
                squared[c] += (m.rmse ?? 0) * (m.rmse ?? 0) * Double(m.truePositives)
            }
            bar.advance()
        }
        bar.finish()
        let rows = (0..<classes).map { c in
            // The core metric's rule: nothing expected and nothing found scores 1, not 0.
            let s = DetectionMetrics.scores(truePositives: tp[c], falsePositives: fp[c], falseNegatives: fn[c])
            return Row(dataset: dataset, dose: dose, className: names[c],
                       truePositives: tp[c], falsePositives: fp[c], falseNegatives: fn[c],
                       precision: s.precision, recall: s.recall, f1: s.f1,
                       rmsePx: tp[c] > 0 ? (squared[c] / Double(tp[c])).squareRoot() : nil)
        }
        return (rows, losses)
    }

    /// Per scored truth column (indices `scored` into `truth`), in that order, its class and loss: the distance
    /// to its matched atom, or the match radius r when missed, plus r for every unmatched atom of its class that
    /// is nearer to it than to any other scored column of that class. Summed over the columns this is
    /// Σ min(d, r) + r·(misses + false atoms), the OSPA distance of order 1 with cut-off r before its
    /// normalization (Schuhmacher, Vo & Vo, IEEE Trans. Signal Process. 56, 3447 (2008)): recall, precision and
    /// position error in one per-column number. Unmatched atoms of a class with no scored column here are left out.
    static func columnLosses<A: ClassifiedPoint>(truth: [ReferencePoint], scored: [Int], atoms: [A],
                                                  matches: [DetectionMatch], radius: Double) -> [(classIndex: Int, loss: Double)] {
        let matchOf = Dictionary(matches.map { ($0.reference, $0.distance) }, uniquingKeysWith: min)
        var loss = scored.map { matchOf[$0] ?? radius }
        let matchedAtoms = Set(matches.map(\.detected))
        for (i, a) in atoms.enumerated() where !matchedAtoms.contains(i) {
            let nearest = scored.indices.filter { truth[scored[$0]].classIndex == a.classIndex }
                .min { hypot(truth[scored[$0]].x - a.x, truth[scored[$0]].y - a.y) < hypot(truth[scored[$1]].x - a.x, truth[scored[$1]].y - a.y) }
            if let k = nearest { loss[k] += radius }
        }
        return zip(scored, loss).map { (truth[$0].classIndex, $1) }
    }
}
