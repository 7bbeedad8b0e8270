import Foundation

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
    public var precision: Double { ratio(truePositives, truePositives + falsePositives) }
    /// TP / (TP + FN).
    public var recall: Double { ratio(truePositives, truePositives + falseNegatives) }
    /// Harmonic mean of precision and recall: 2TP / (2TP + FP + FN).
    public var f1: Double { ratio(2 * truePositives, 2 * truePositives + falsePositives + falseNegatives) }

    private func ratio(_ a: Int, _ b: Int) -> Double {
        b > 0 ? Double(a) / Double(b) : (truePositives + falsePositives + falseNegatives == 0 ? 1 : 0)
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
/// summed distance. Exact: candidate pairs split into independent clusters (connected
/// components of the "within radius" graph), each solved by the Hungarian algorithm.
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
        let pairs = matchPoints(d.map { (detected[$0].x, detected[$0].y) }, r.map { (reference[$0].x, reference[$0].y) },
                                radius: radius)
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

/// Optimal one-to-one matching of two point sets within `radius`: (index in a, index in b, distance).
func matchPoints(_ a: [(Double, Double)], _ b: [(Double, Double)], radius: Double) -> [(Int, Int, Double)] {
    guard !a.isEmpty, !b.isEmpty else { return [] }
    // Candidate pairs via a uniform grid of cell size `radius`.
    var grid: [Int64: [Int]] = [:]
    func cell(_ x: Double, _ y: Double) -> (Int64, Int64) { (Int64((x / radius).rounded(.down)), Int64((y / radius).rounded(.down))) }
    func key(_ cx: Int64, _ cy: Int64) -> Int64 { cx &* 73_856_093 ^ cy &* 19_349_663 }
    for (j, p) in b.enumerated() { let (cx, cy) = cell(p.0, p.1); grid[key(cx, cy), default: []].append(j) }
    var edges: [(Int, Int, Double)] = []
    for (i, p) in a.enumerated() {
        let (cx, cy) = cell(p.0, p.1)
        var seen = Set<Int>()
        for dy in -1...1 {
            for dx in -1...1 {
                for j in grid[key(cx + Int64(dx), cy + Int64(dy))] ?? [] where seen.insert(j).inserted {
                    let d = ((p.0 - b[j].0) * (p.0 - b[j].0) + (p.1 - b[j].1) * (p.1 - b[j].1)).squareRoot()
                    if d <= radius { edges.append((i, j, d)) }
                }
            }
        }
    }
    // Clusters: union-find over a's indices then b's (offset by a.count).
    var parent = Array(0..<(a.count + b.count))
    func find(_ x: Int) -> Int { var x = x; while parent[x] != x { parent[x] = parent[parent[x]]; x = parent[x] }; return x }
    for e in edges { let u = find(e.0), v = find(a.count + e.1); if u != v { parent[u] = v } }
    var clusters: [Int: [(Int, Int, Double)]] = [:]
    for e in edges { clusters[find(e.0), default: []].append(e) }

    var result: [(Int, Int, Double)] = []
    for root in clusters.keys.sorted() {
        let es = clusters[root]!
        let rows = Array(Set(es.map(\.0))).sorted(), cols = Array(Set(es.map(\.1))).sorted()
        if es.count == 1 { result.append(es[0]); continue }
        let k = max(rows.count, cols.count)
        let rowIndex = Dictionary(uniqueKeysWithValues: rows.enumerated().map { ($1, $0) })
        let colIndex = Dictionary(uniqueKeysWithValues: cols.enumerated().map { ($1, $0) })
        // Any non-pair costs more than all real pairs together, so matches are maximized first.
        let none = radius * Double(k + 1) + 1
        var cost = [Double](repeating: none, count: k * k)
        for e in es { cost[rowIndex[e.0]! * k + colIndex[e.1]!] = e.2 }
        let assignment = hungarian(cost, k)
        for (r, c) in assignment.enumerated() where r < rows.count && c < cols.count && cost[r * k + c] < none {
            result.append((rows[r], cols[c], cost[r * k + c]))
        }
    }
    return result.sorted { $0.0 < $1.0 }
}

/// Minimum-cost perfect assignment of a k×k cost matrix (row-major): column of each row.
/// The O(k³) Hungarian algorithm with potentials (Kuhn–Munkres, shortest augmenting paths).
func hungarian(_ cost: [Double], _ k: Int) -> [Int] {
    var u = [Double](repeating: 0, count: k + 1), v = u
    var owner = [Int](repeating: 0, count: k + 1), way = owner   // owner[j]: row (1-based) holding column j
    for row in 1...k {
        owner[0] = row
        var j0 = 0
        var minv = [Double](repeating: .infinity, count: k + 1)
        var used = [Bool](repeating: false, count: k + 1)
        repeat {
            used[j0] = true
            let i0 = owner[j0]
            var delta = Double.infinity, j1 = 0
            for j in 1...k where !used[j] {
                let cur = cost[(i0 - 1) * k + (j - 1)] - u[i0] - v[j]
                if cur < minv[j] { minv[j] = cur; way[j] = j0 }
                if minv[j] < delta { delta = minv[j]; j1 = j }
            }
            for j in 0...k {
                if used[j] { u[owner[j]] += delta; v[j] -= delta } else { minv[j] -= delta }
            }
            j0 = j1
        } while owner[j0] != 0
        repeat {
            let j1 = way[j0]
            owner[j0] = owner[j1]
            j0 = j1
        } while j0 != 0
    }
    var assignment = [Int](repeating: 0, count: k)
    for j in 1...k { assignment[owner[j] - 1] = j - 1 }
    return assignment
}
