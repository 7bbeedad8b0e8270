import Core
import Foundation

/// Turns probability maps into atoms.
///
/// Per class (the background class skipped): pixels with probability ≥ `threshold` form
/// 8-connected components; inside each component the local maxima of the probability,
/// thinned greedily (highest first) to be at least `minSeparation` apart, are the atoms,
/// so touching atoms are split — each pixel goes to its nearest peak. Each atom's position
/// is the probability-weighted centroid of its pixels and its score their mean probability;
/// with a raw frame the position is then refined by a 2-D Gaussian fit
/// (`GaussianRefinement`), keeping the centroid when the fit is rejected.
public struct AtomLocator: Sendable {
    /// Probability at or above which a pixel belongs to a blob.
    public let threshold: Float
    /// Smallest distance between two atoms in one blob, in pixels (≥ 1); also between the
    /// centroids of any two atoms of any class (the less probable one of a closer pair is dropped).
    public let minSeparation: Double
    /// Atoms with fewer pixels are dropped as noise.
    public let minArea: Int
    /// Class not localized (nil: every class is). Pass nil for a single atom-probability plane.
    public let backgroundClass: Int?
    /// Atoms closer than this to the frame edge (in pixels) are flagged `border`.
    public let borderMargin: Double
    /// Sub-pixel refinement on the raw frame; nil switches it off.
    public let refinement: GaussianRefinement?

    /// - Throws: `LocalizationError.invalidParameter` for a threshold outside (0, 1],
    ///   a separation < 1, an area < 1 or a negative border margin.
    public init(threshold: Float = 0.5, minSeparation: Double = 3, minArea: Int = 2, backgroundClass: Int? = 0,
                borderMargin: Double = 2, refinement: GaussianRefinement? = GaussianRefinement()) throws {
        guard threshold > 0, threshold <= 1 else {
            throw LocalizationError.invalidParameter(name: "threshold", reason: "must be in (0, 1], got \(threshold)")
        }
        guard minSeparation >= 1, minSeparation.isFinite else {
            throw LocalizationError.invalidParameter(name: "minimum separation", reason: "must be ≥ 1 px, got \(minSeparation)")
        }
        guard minArea >= 1 else { throw LocalizationError.invalidParameter(name: "minimum area", reason: "must be ≥ 1, got \(minArea)") }
        guard borderMargin >= 0, borderMargin.isFinite else {
            throw LocalizationError.invalidParameter(name: "border margin", reason: "must be ≥ 0, got \(borderMargin)")
        }
        if let r = refinement, r.halfWindow < 1 || !(r.maxShift > 0) || !(r.initialSigma > 0) || r.maxIterations < 1 || r.neighbourRounds < 0 || !(r.fitVarianceScale > 0 && r.fitVarianceScale.isFinite) {
            throw LocalizationError.invalidParameter(name: "refinement", reason: "needs halfWindow ≥ 1, maxShift > 0, initialSigma > 0, maxIterations ≥ 1, neighbourRounds ≥ 0, fitVarianceScale > 0")
        }
        self.threshold = threshold; self.minSeparation = minSeparation; self.minArea = minArea
        self.backgroundClass = backgroundClass; self.borderMargin = borderMargin; self.refinement = refinement
    }

    /// Localizes the atoms of every (non-background) class.
    ///
    /// - Parameter frame: the raw (or normalized) frame the maps came from, row-major, same size;
    ///   needed only for refinement.
    /// - Returns: atoms ordered by class, then by the raster position of their blob.
    /// - Throws: `LocalizationError.sizeMismatch` if `frame` does not match the maps.
    public func locate(_ maps: ProbabilityMaps, frame: [Float]? = nil) throws -> [Atom] {
        let found = try candidates(maps, frame: frame)
        guard let frame else { return weigh(found, width: maps.width, height: maps.height) }
        return weigh(measuringFits(found, frame: frame, width: maps.width, height: maps.height), width: maps.width, height: maps.height)
    }

    /// `candidates` with each accepted fit's position variance measured from its residuals
    /// (`FitUncertainty`), from which `weigh` reports σ.
    public func measuringFits(_ candidates: Candidates, frame: [Float], width: Int, height: Int) -> Candidates {
        guard let refinement, frame.count == width * height else { return candidates }
        var out = candidates
        out.fitVariances = frame.withUnsafeBufferPointer {
            FitUncertainty.positionVariances(candidates, frame: $0, width: width, height: height, halfWindow: refinement.halfWindow)
        }
        return out
    }

    /// Atoms found on the maps and, with a frame and refinement, their Gaussian fits — before
    /// the fits are weighed against the centroids. `BandedLocation` gathers these band by band
    /// and weighs them once, so the weighing's error estimates come from the whole frame.
    public struct Candidates: Sendable {
        public var atoms: [Atom]
        /// One per atom; nil where no fit was attempted.
        public var fits: [GaussianFit?]
        /// One per atom when measured (`FitUncertainty`): the fit's sandwich position variance,
        /// from which `weigh` reports σ; nil: σ from the fits' s²·(JᵀJ)⁻¹ as they are weighed.
        public var fitVariances: [Double?]?

        /// Moves every atom and fit by `dy` rows (band coordinates → frame coordinates).
        public mutating func shift(rows dy: Double) {
            for i in atoms.indices { atoms[i].y += dy }
            for i in fits.indices { fits[i]?.y += dy }
        }
    }

    /// The atoms of every (non-background) class and their fits (see `Candidates`).
    /// - Throws: `LocalizationError.sizeMismatch` if `frame` does not match the maps.
    public func candidates(_ maps: ProbabilityMaps, frame: [Float]? = nil) throws -> Candidates {
        if let frame { try checkImage(frame.count, width: maps.width, height: maps.height, what: "raw frame") }
        var atoms: [Atom] = []
        for c in 0..<maps.classes where c != backgroundClass {
            atoms += maps.values.withUnsafeBufferPointer { v in
                blobs(UnsafeBufferPointer(rebasing: v[(c * maps.width * maps.height)...].prefix(maps.width * maps.height)),
                      width: maps.width, height: maps.height, classIndex: c)
            }
        }
        // Before refinement, so that a duplicate does not enter its twin's fit as a neighbour.
        atoms = Self.keepingApart(atoms, minDistance: minSeparation)
        for i in atoms.indices { atoms[i].classEvidence = maps.logEvidence(x: atoms[i].x, y: atoms[i].y, classIndex: atoms[i].classIndex) }
        guard let frame, let refinement else { return Candidates(atoms: atoms, fits: atoms.map { _ in nil }) }
        return Candidates(atoms: atoms, fits: fits(atoms, frame: frame, width: maps.width, height: maps.height, with: refinement))
    }

    /// Drops every atom closer than `minDistance` to a more probable one (any class; ties by
    /// order): two columns cannot sit closer than the lattice allows, so such a pair is one atom
    /// seen by two classes or split by noise. Order is kept.
    static func keepingApart(_ atoms: [Atom], minDistance: Double) -> [Atom] {
        let order = atoms.indices.sorted { atoms[$0].score != atoms[$1].score ? atoms[$0].score > atoms[$1].score : $0 < $1 }
        var grid: [SIMD2<Int>: [Int]] = [:], keep = [Bool](repeating: false, count: atoms.count)
        func cell(_ a: Atom) -> SIMD2<Int> { SIMD2(Int((a.x / minDistance).rounded(.down)), Int((a.y / minDistance).rounded(.down))) }
        for i in order {
            let c = cell(atoms[i])
            let crowded = (-1...1).contains { dy in
                (-1...1).contains { dx in
                    (grid[c &+ SIMD2(dx, dy)] ?? []).contains { j in
                        let ex = atoms[j].x - atoms[i].x, ey = atoms[j].y - atoms[i].y
                        return ex * ex + ey * ey < minDistance * minDistance
                    }
                }
            }
            if !crowded { keep[i] = true; grid[c, default: []].append(i) }
        }
        return atoms.indices.filter { keep[$0] }.map { atoms[$0] }
    }

    /// Components → peaks → split → centroids, for one class plane.
    private func blobs(_ p: UnsafeBufferPointer<Float>, width: Int, height: Int, classIndex: Int) -> [Atom] {
        var visited = [Bool](repeating: false, count: p.count)
        var members: [Int] = [], stack: [Int] = []
        var atoms: [Atom] = []
        for seed in 0..<p.count where !visited[seed] && p[seed] >= threshold {
            members.removeAll(keepingCapacity: true)
            visited[seed] = true
            stack.append(seed)
            while let i = stack.popLast() {
                members.append(i)
                let x = i % width, y = i / width
                for ny in max(0, y - 1)...min(height - 1, y + 1) {
                    for nx in max(0, x - 1)...min(width - 1, x + 1) {
                        let j = ny * width + nx
                        if !visited[j] && p[j] >= threshold { visited[j] = true; stack.append(j) }
                    }
                }
            }
            atoms += split(members, p, width: width, height: height, classIndex: classIndex)
        }
        return atoms
    }

    /// Splits one component at its separated local maxima and measures each part.
    private func split(_ members: [Int], _ p: UnsafeBufferPointer<Float>, width: Int, height: Int,
                       classIndex: Int) -> [Atom] {
        let peaks = self.peaks(members, p, width: width, height: height)
        var sumP = [Double](repeating: 0, count: peaks.count), sumX = sumP, sumY = sumP
        var count = [Int](repeating: 0, count: peaks.count)
        var edge = [Bool](repeating: false, count: peaks.count)
        for i in members {
            let x = i % width, y = i / width
            var best = 0, bestD = Double.infinity
            for (k, q) in peaks.enumerated() {
                let dx = Double(x) - q.x, dy = Double(y) - q.y, d = dx * dx + dy * dy
                if d < bestD { bestD = d; best = k }
            }
            let w = Double(p[i])
            sumP[best] += w; sumX[best] += w * Double(x); sumY[best] += w * Double(y); count[best] += 1
            if x == 0 || y == 0 || x == width - 1 || y == height - 1 { edge[best] = true }
        }
        return peaks.indices.compactMap { k in
            guard count[k] >= minArea, sumP[k] > 0 else { return nil }
            var atom = Atom(x: sumX[k] / sumP[k], y: sumY[k] / sumP[k], classIndex: classIndex,
                            score: Float(sumP[k] / Double(count[k])), area: count[k])
            atom.border = edge[k] || nearEdge(atom.x, atom.y, width: width, height: height)
            return atom
        }
    }

    /// Local maxima (≥ their 8 neighbours) of a component, strongest first, at least
    /// `minSeparation` apart. A connected plateau of equal maxima (saturated probabilities)
    /// counts as one peak at its mean position.
    private func peaks(_ members: [Int], _ p: UnsafeBufferPointer<Float>, width: Int, height: Int) -> [(x: Double, y: Double)] {
        var isCandidate = Set<Int>()
        for i in members {
            let x = i % width, y = i / width, v = p[i]
            var isMax = true
            scan: for ny in max(0, y - 1)...min(height - 1, y + 1) {
                for nx in max(0, x - 1)...min(width - 1, x + 1) where p[ny * width + nx] > v {
                    isMax = false; break scan
                }
            }
            if isMax { isCandidate.insert(i) }
        }
        // Merge equal-valued neighbouring maxima into plateaus.
        var plateaus: [(value: Float, first: Int, x: Double, y: Double)] = []
        var stack: [Int] = []
        for seed in members where isCandidate.contains(seed) {
            isCandidate.remove(seed)
            stack.append(seed)
            var sx = 0, sy = 0, n = 0
            while let i = stack.popLast() {
                let x = i % width, y = i / width
                sx += x; sy += y; n += 1
                for ny in max(0, y - 1)...min(height - 1, y + 1) {
                    for nx in max(0, x - 1)...min(width - 1, x + 1) {
                        let j = ny * width + nx
                        if p[j] == p[seed], isCandidate.remove(j) != nil { stack.append(j) }
                    }
                }
            }
            plateaus.append((p[seed], seed, Double(sx) / Double(n), Double(sy) / Double(n)))
        }
        plateaus.sort { $0.value != $1.value ? $0.value > $1.value : $0.first < $1.first }
        let minD2 = minSeparation * minSeparation
        var accepted: [(x: Double, y: Double)] = []
        for q in plateaus where accepted.allSatisfy({ ($0.x - q.x) * ($0.x - q.x) + ($0.y - q.y) * ($0.y - q.y) >= minD2 }) {
            accepted.append((q.x, q.y))
        }
        return accepted
    }

    private func nearEdge(_ x: Double, _ y: Double, width: Int, height: Int) -> Bool {
        x < borderMargin || y < borderMargin || x > Double(width - 1) - borderMargin || y > Double(height - 1) - borderMargin
    }

    /// Gaussian fit of every atom, in parallel.
    ///
    /// Atoms close enough to spill into each other's windows (any class) are fitted with
    /// their neighbours' Gaussians subtracted: the first round uses the neighbours' centroids
    /// and rough amplitudes, later rounds (damped Jacobi iteration, up to `neighbourRounds`)
    /// their fits from the round before. An atom is refitted only while a neighbour still moves
    /// (by > 10⁻³ px, or its amplitude by > 0.1 %); on dense lattices (3.3σ spacing) most
    /// atoms still move after all rounds, hence the cap.
    private func fits(_ atoms: [Atom], frame: [Float], width: Int, height: Int, with refinement: GaussianRefinement) -> [GaussianFit?] {
        let starts = atoms.map { (x: $0.x, y: $0.y) }
        guard !starts.isEmpty else { return [] }
        let reach = 1.5 * Double(refinement.halfWindow) + 3 * refinement.initialSigma
        let neighbours = refinement.neighbourRounds > 0
            ? neighbourLists(starts, within: reach) : [[Int]](repeating: [], count: starts.count)
        let crowded = neighbours.indices.filter { !neighbours[$0].isEmpty }
        var fits = [GaussianFit?](repeating: nil, count: starts.count)
        frame.withUnsafeBufferPointer { f in
            var spots = crowded.isEmpty
                ? [] : starts.map { refinement.initialSpot(f, width: width, height: height, x: $0.x, y: $0.y) }
            let rounds = crowded.isEmpty ? 1 : 1 + refinement.neighbourRounds
            // One memory layout for every round (the spots move by a pixel at most).
            let layout = SpotProfiles.rasterOrder(spots)
            var todo = Array(starts.indices)
            // Plain Jacobi updates oscillate (a fit's background trades against its neighbours'
            // amplitudes); damping the neighbour updates converges further in the same rounds.
            let relaxation = 0.7
            for round in 0..<rounds where !todo.isEmpty {
                let previous = fits, batch = todo
                // The neighbours as they stand after the last round, sampled once for every window they reach.
                SpotProfiles(spots, width: width, height: height, layout: layout).withSpans { profiles in
                    fits.withUnsafeMutableBufferPointer { buffer in
                        // Each index is written by exactly one iteration.
                        let source = UncheckedSendable(f), out = UncheckedSendable(buffer)
                        // Contiguous runs of atoms (raster order within a class), so that consecutive fits
                        // share their neighbours' profiles and frame rows in the cache.
                        parallelChunks(batch.count, minChunk: 64, maxChunks: 8 * activeProcessors) { range in
                            for i in batch[range] {
                                out.value[i] = refinement.fit(source.value, width: width, height: height, x: starts[i].x, y: starts[i].y,
                                                              subtracting: profiles, neighbours[i], guess: previous[i])
                            }
                        }
                    }
                }
                // Refit next round only the atoms next to one that moved.
                var moved = [Bool](repeating: false, count: starts.count)
                for i in batch where !neighbours[i].isEmpty {
                    guard let fit = fits[i], fit.outcome == .refined else { continue }
                    let change = max(abs(fit.x - spots[i].x), abs(fit.y - spots[i].y),
                                     abs(fit.amplitude - spots[i].amplitude) / max(fit.amplitude, 1e-12))
                    moved[i] = change > 1e-3
                    let w = round == 0 ? 1.0 : relaxation
                    spots[i] = GaussianSpot(x: spots[i].x + w * (fit.x - spots[i].x), y: spots[i].y + w * (fit.y - spots[i].y),
                                            amplitude: max(0, spots[i].amplitude + w * (fit.amplitude - spots[i].amplitude)), sigma: fit.sigma)
                }
                todo = crowded.filter { i in neighbours[i].contains { moved[$0] } }
            }
        }
        return fits
    }

    /// The atoms at their final positions: each accepted fit weighed against its centroid by
    /// their estimated errors (rejected fits keep the centroid), the centroid errors estimated
    /// from all the given candidates. `width` × `height`: the frame, for the border flag.
    public func weigh(_ candidates: Candidates, width: Int, height: Int) -> [Atom] {
        var atoms = candidates.atoms
        let fits = candidates.fits
        guard let refinement else { return atoms }
        let fitVariance = Self.fitVariances(candidates, scale: refinement.fitVarianceScale)
        let centroidVariance = Self.centroidVariances(atoms, fits, fitVariance: fitVariance)
        let centroidBound = candidates.fitVariances.map { FitUncertainty.centroidVarianceBounds(atoms, fits, fitVariances: $0) }
        for i in atoms.indices {
            guard let fit = fits[i] else { continue }
            atoms[i].refinement = fit.outcome
            let estimate: CentroidError? = centroidVariance[atoms[i].classIndex] ?? centroidVariance[-1]
            let vc: Double? = estimate?.variance
            guard fit.outcome == .refined, estimate?.fitsHelp != false else {
                atoms[i].positionSigma = vc?.squareRoot()
                continue
            }
            // Inverse-variance combination: a fit whose residuals are large (noise, a peak shape the
            // Gaussian does not describe) gives way to the centroid; without an estimate, the fit.
            let vf = fitVariance[i] ?? .infinity
            let w: Double
            if let vc { w = vf.isFinite ? vc / (vc + vf) : 0 } else { w = 1 }
            atoms[i].x += w * (fit.x - atoms[i].x); atoms[i].y += w * (fit.y - atoms[i].y)
            atoms[i].sigma = fit.sigma
            if let vs = candidates.fitVariances?[i], var vc {
                // σ's centroid part: the weighing's estimate, or the bound from the measured fits if larger.
                vc = max(vc, centroidBound?[atoms[i].classIndex] ?? centroidBound?[-1] ?? 0)
                // The variance of w·fit + (1 − w)·centroid, the fit's from its residuals (not the
                // weighing's scaled s²·(JᵀJ)⁻¹). Decomposing the spread with the sandwich instead
                // left S σ 2–3× too small: the network's centroid and the fit err together.
                atoms[i].positionSigma = (w * w * vs + (1 - w) * (1 - w) * vc).squareRoot()
            } else if let vc {
                atoms[i].positionSigma = vf.isFinite ? (vc * vf / (vc + vf)).squareRoot() : vc.squareRoot()
            } else {
                atoms[i].positionSigma = fit.positionSigma
            }
            atoms[i].border = atoms[i].border || nearEdge(atoms[i].x, atoms[i].y, width: width, height: height)
        }
        return atoms
    }

    /// Per class (and pooled, key −1), the centroid's error variance per axis, estimated from
    /// the accepted fits: centroid − fit has per-axis variance v_c + v_f when the two errors are
    /// independent, and a 2-D Gaussian's |d|² has median 2 ln 2 · v, so
    /// v_c = median|d|² / (2 ln 2) · (1 − 3/√n) − median v_f, v_f being the fits' variances
    /// (`fitVariances`) and the factor a lower bound on the median of n. When that is not positive
    /// the fits are not clearly more precise than their disagreement with the centroids: they do
    /// not help (`fitsHelp` false;
    /// the centroids are kept and the whole spread is their variance). Robust to a few bad fits;
    /// a class with fewer than `minimumFits` fits takes the pooled value, and with fewer overall
    /// there is no estimate (the fit is kept as it is).
    static func centroidVariances(_ atoms: [Atom], _ fits: [GaussianFit?], fitVariance: [Double?],
                                  minimumFits: Int = 8) -> [Int: CentroidError] {
        var d2: [Int: [Double]] = [:], vf: [Int: [Double]] = [:]
        for i in atoms.indices {
            guard let fit = fits[i], fit.outcome == .refined, let v = fitVariance[i], v.isFinite else { continue }
            let atom = atoms[i]
            let d = (fit.x - atom.x) * (fit.x - atom.x) + (fit.y - atom.y) * (fit.y - atom.y)
            for key in [atom.classIndex, -1] { d2[key, default: []].append(d); vf[key, default: []].append(v) }
        }
        var result: [Int: CentroidError] = [:]
        for (key, values) in d2 where values.count >= minimumFits {
            let spread: Double = Statistics.median(values) / (2 * log(2.0))
            let total: Double = Swift.max(spread, 1e-8)
            // The median of n exponential |d|² errs by ≈ 1.44/√n of itself: judged on a bound about two
            // of those below it, a class with few atoms or a spread barely above its fits' keeps its centroids.
            let lowSpread: Double = spread * Swift.max(0, 1 - 3 / Double(values.count).squareRoot())
            let centroid: Double = lowSpread - Statistics.median(vf[key] ?? [])
            result[key] = CentroidError(variance: centroid > 0 ? centroid : total, fitsHelp: centroid > 0)
        }
        return result
    }

    /// Per candidate, the variance per axis by which the weighing takes its fit: `scale` times the
    /// fit's sandwich variance where measured (`measuringFits`), else times its s²·(JᵀJ)⁻¹; nil
    /// where no fit was accepted. The sandwich follows shot noise, largest on the peak; s²·(JᵀJ)⁻¹
    /// spreads the residual of the whole window evenly, so a light column whose window holds a
    /// heavy neighbour's misfit tail (S beside W) looked 2× less precise than it is.
    static func fitVariances(_ candidates: Candidates, scale: Double) -> [Double?] {
        candidates.fits.indices.map { i in
            guard let fit = candidates.fits[i], fit.outcome == .refined else { return nil }
            if let v = candidates.fitVariances?[i] ?? nil { return scale * v }
            return scale * fit.positionSigma * fit.positionSigma
        }
    }

    /// For each point, the other points within `radius` (uniform-grid search).
    private func neighbourLists(_ points: [(x: Double, y: Double)], within radius: Double) -> [[Int]] {
        var grid: [SIMD2<Int>: [Int]] = [:]
        func cell(_ p: (x: Double, y: Double)) -> SIMD2<Int> { SIMD2(Int((p.x / radius).rounded(.down)), Int((p.y / radius).rounded(.down))) }
        for (i, p) in points.enumerated() { grid[cell(p), default: []].append(i) }
        return points.enumerated().map { i, p in
            let c = cell(p)
            var found: [Int] = []
            for dy in -1...1 {
                for dx in -1...1 {
                    for j in grid[c &+ SIMD2(dx, dy)] ?? [] where j != i {
                        let ex = points[j].x - p.x, ey = points[j].y - p.y
                        if ex * ex + ey * ey <= radius * radius { found.append(j) }
                    }
                }
            }
            return found
        }
    }
}

/// A class's centroid error variance per axis, and whether its fits are precise enough to help.
struct CentroidError {
    var variance: Double
    var fitsHelp: Bool
}
