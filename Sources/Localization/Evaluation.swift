import Foundation
import Core

/// Detection quality of one class (or of all classes together).
public struct DetectionMetrics: Sendable, Equatable {
    /// The class, or nil for the total over all classes.
    public let classIndex: Int?
    public let truePositives: Int
    public let falsePositives: Int
    public let falseNegatives: Int
    /// Root-mean-square distance of the matched pairs in pixels; nil without matches.
    public let rmse: Double?

    /// TP / (TP + FP). Ratios 0/0 are 1 when nothing was expected and nothing found, else 0.
    public var precision: Double { scores.precision }
    /// TP / (TP + FN).
    public var recall: Double { scores.recall }
    /// Harmonic mean of precision and recall: 2TP / (2TP + FP + FN).
    public var f1: Double { scores.f1 }

    private var scores: (precision: Double, recall: Double, f1: Double) {
        Self.scores(truePositives: truePositives, falsePositives: falsePositives, falseNegatives: falseNegatives)
    }

    /// Precision, recall and F1 of these counts; a class with nothing expected and nothing found
    /// scores 1 (a perfect empty answer), so summed tables agree with the per-frame metric.
    public static func scores(truePositives tp: Int, falsePositives fp: Int, falseNegatives fn: Int)
        -> (precision: Double, recall: Double, f1: Double) {
        let empty = tp + fp + fn == 0
        let ratio = { (a: Int, b: Int) in b > 0 ? Double(a) / Double(b) : (empty ? 1 : 0) }
        return (ratio(tp, tp + fp), ratio(tp, tp + fn), ratio(2 * tp, 2 * tp + fp + fn))
    }

    /// Header of `csvRow`.
    public static let csvHeader = "class,tp,fp,fn,precision,recall,f1,rmse_px"
    /// One CSV row; the class is "all" for the total, the RMSE empty without matches.
    public var csvRow: String {
        let rm = rmse.map { String(format: "%.4f", $0) } ?? ""
        return "\(classIndex.map(String.init) ?? "all"),\(truePositives),\(falsePositives),\(falseNegatives),"
            + String(format: "%.4f,%.4f,%.4f,", precision, recall, f1) + rm
    }
}

/// One matched pair: indices into the detected and the reference arrays.
public struct DetectionMatch: Sendable, Equatable {
    public let detected: Int
    public let reference: Int
    public let distance: Double
}

/// Result of `evaluateDetections`: per-class and total metrics and the matched pairs.
public struct DetectionEvaluation: Sendable, CustomStringConvertible {
    /// Matching radius in pixels.
    public let radius: Double
    /// One entry per class present in either input, by class index.
    public let perClass: [DetectionMetrics]
    /// Counts summed over classes, RMSE over all matches.
    public let total: DetectionMetrics
    /// All matched pairs (same class, distance ≤ radius).
    public let matches: [DetectionMatch]

    /// CSV with a header, one row per class and a final "all" row.
    public var csv: String {
        ([DetectionMetrics.csvHeader] + (perClass + [total]).map(\.csvRow)).joined(separator: "\n") + "\n"
    }

    /// A fixed-width table for terminals and logs.
    public var description: String {
        func row(_ cells: [String]) -> String {
            zip(cells, [6, 7, 7, 7, 10, 8, 8, 9]).map { cell, w in
                String(repeating: " ", count: max(0, w - cell.count)) + cell
            }.joined()
        }
        var lines = [row(["class", "TP", "FP", "FN", "precision", "recall", "F1", "RMSE px"])]
        for m in perClass + [total] {
            lines.append(row([m.classIndex.map(String.init) ?? "all", "\(m.truePositives)", "\(m.falsePositives)",
                              "\(m.falseNegatives)", String(format: "%.4f", m.precision),
                              String(format: "%.4f", m.recall), String(format: "%.4f", m.f1),
                              m.rmse.map { String(format: "%.4f", $0) } ?? "–"]))
        }
        return lines.joined(separator: "\n")
    }
}

/// Matches detections to reference points of the same class, one to one, within `radius`
/// pixels, maximizing the number of matches and, among maximal matchings, minimizing the
/// summed distance (`LinearAssignment.matchPoints`, exact).
///
/// - Throws: `LocalizationError.invalidParameter` for a radius that is not positive and
///   finite; `.nonFiniteCoordinate` naming the first bad point.
public func evaluateDetections<D: ClassifiedPoint, R: ClassifiedPoint>(
    _ detected: [D], reference: [R], radius: Double
) throws -> DetectionEvaluation {
    guard radius > 0, radius.isFinite else {
        throw LocalizationError.invalidParameter(name: "matching radius", reason: "must be > 0 and finite, got \(radius)")
    }
    if let i = detected.firstIndex(where: { !$0.x.isFinite || !$0.y.isFinite }) {
        throw LocalizationError.nonFiniteCoordinate(what: "detection", index: i)
    }
    if let i = reference.firstIndex(where: { !$0.x.isFinite || !$0.y.isFinite }) {
        throw LocalizationError.nonFiniteCoordinate(what: "reference point", index: i)
    }
    let classes = Set(detected.map(\.classIndex)).union(reference.map(\.classIndex)).sorted()
    var perClass: [DetectionMetrics] = [], matches: [DetectionMatch] = []
    for c in classes {
        let d = detected.indices.filter { detected[$0].classIndex == c }
        let r = reference.indices.filter { reference[$0].classIndex == c }
        let pairs = LinearAssignment.matchPoints(d.map { (detected[$0].x, detected[$0].y) },
                                                 r.map { (reference[$0].x, reference[$0].y) },
                                                 maxDistance: radius, objective: .mostPairs)
        let classMatches = pairs.map { DetectionMatch(detected: d[$0.0], reference: r[$0.1], distance: $0.2) }
        matches += classMatches
        perClass.append(metrics(c, matches: classMatches, detected: d.count, reference: r.count))
    }
    let total = metrics(nil, matches: matches, detected: detected.count, reference: reference.count)
    return DetectionEvaluation(radius: radius, perClass: perClass, total: total, matches: matches)
}

private func metrics(_ c: Int?, matches: [DetectionMatch], detected: Int, reference: Int) -> DetectionMetrics {
    let tp = matches.count
    let rmse = tp > 0 ? (matches.reduce(0) { $0 + $1.distance * $1.distance } / Double(tp)).squareRoot() : nil
    return DetectionMetrics(classIndex: c, truePositives: tp, falsePositives: detected - tp,
                            falseNegatives: reference - tp, rmse: rmse)
}
