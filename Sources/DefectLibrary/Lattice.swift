import CBLAS
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A periodic lattice seen in projection: sites at origin + basis[s] + n₁a₁ + n₂a₂.
/// Graphene's honeycomb and TMD (metal/chalcogen) lattices have two basis sites per cell.
public struct FittedLattice: Sendable, Equatable {
    public var a1: SIMD2<Double>
    public var a2: SIMD2<Double>
    public var origin: SIMD2<Double>
    /// Offsets of the sublattices from `origin`; `basis[0]` is (0, 0).
    public var basis: [SIMD2<Double>]
    /// Smallest distance between two sites (the bond length for a honeycomb).
    public var nearestSiteDistance: Double {
        var best = Double.infinity
        for s in basis.indices {
            for t in basis.indices {
                for n1 in -1...1 {
                    for n2 in -1...1 {
                        let v = basis[t] - basis[s] + Double(n1) * a1 + Double(n2) * a2
                        let l = length(v)
                        if l > 1e-9 { best = min(best, l) }
                    }
                }
            }
        }
        return best
    }

    public init(a1: SIMD2<Double>, a2: SIMD2<Double>, origin: SIMD2<Double>, basis: [SIMD2<Double>]) {
        self.a1 = a1; self.a2 = a2; self.origin = origin; self.basis = basis
    }

    /// Every site whose position lies inside the frame shrunk by `margin` pixels on each side.
    public func sites(width: Int, height: Int, margin: Double = 0) -> [LatticeSite] {
        let det = a1.x * a2.y - a1.y * a2.x
        guard abs(det) > 1e-12 else { return [] }
        let corners: [SIMD2<Double>] = [[0, 0], [Double(width - 1), 0], [0, Double(height - 1)],
                                         [Double(width - 1), Double(height - 1)]]
        var lo = SIMD2<Double>(repeating: .infinity), hi = SIMD2<Double>(repeating: -.infinity)
        for c in corners {
            for b in basis {
                let f = fractional(c - b)
                lo = pointwiseMin(lo, f); hi = pointwiseMax(hi, f)
            }
        }
        var out = [LatticeSite]()
        for n1 in Int(lo.x.rounded(.down))...Int(hi.x.rounded(.up)) {
            for n2 in Int(lo.y.rounded(.down))...Int(hi.y.rounded(.up)) {
                for (s, b) in basis.enumerated() {
                    let p = origin + b + Double(n1) * a1 + Double(n2) * a2
                    if p.x >= margin, p.y >= margin, p.x <= Double(width - 1) - margin,
                       p.y <= Double(height - 1) - margin {
                        out.append(LatticeSite(x: p.x, y: p.y, sublattice: s, n1: n1, n2: n2))
                    }
                }
            }
        }
        return out
    }

    /// Coordinates of `p − origin` in the (a₁, a₂) basis.
    func fractional(_ p: SIMD2<Double>) -> SIMD2<Double> {
        let det = a1.x * a2.y - a1.y * a2.x
        let q = p - origin
        return SIMD2((q.x * a2.y - q.y * a2.x) / det, (a1.x * q.y - a1.y * q.x) / det)
    }
}

/// One predicted lattice site.
public struct LatticeSite: Sendable, Equatable {
    public var x: Double, y: Double
    public var sublattice: Int
    public var n1: Int, n2: Int
}

@inline(__always) func length(_ v: SIMD2<Double>) -> Double { (v * v).sum().squareRoot() }

/// Buckets points on a square grid for fixed-radius neighbour queries.
struct PointGrid {
    let cell: Double
    let points: [SIMD2<Double>]
    private var buckets: [SIMD2<Int>: [Int]] = [:]

    init(_ points: [SIMD2<Double>], cell: Double) {
        self.cell = cell; self.points = points
        for (i, p) in points.enumerated() { buckets[key(p), default: []].append(i) }
    }

    private func key(_ p: SIMD2<Double>) -> SIMD2<Int> {
        SIMD2(Int((p.x / cell).rounded(.down)), Int((p.y / cell).rounded(.down)))
    }

    /// Indices of points within `radius` (≤ cell) of `p`.
    func neighbours(of p: SIMD2<Double>, within radius: Double) -> [Int] {
        let k = key(p)
        var out = [Int]()
        for dx in -1...1 {
            for dy in -1...1 {
                for j in buckets[SIMD2(k.x + dx, k.y + dy)] ?? [] where length(points[j] - p) <= radius {
                    out.append(j)
                }
            }
        }
        return out
    }

    func nearestDistance(to p: SIMD2<Double>, excluding self_: Int? = nil) -> Double {
        var best = Double.infinity
        let k = key(p)
        for dx in -1...1 {
            for dy in -1...1 {
                for j in buckets[SIMD2(k.x + dx, k.y + dy)] ?? [] where j != self_ {
                    best = min(best, length(points[j] - p))
                }
            }
        }
        return best
    }
}

/// Fits a lattice to atom positions, robust to missing atoms and a few extra ones.
public enum LatticeFitter {
    /// Finds a₁, a₂ as the shortest difference vectors shared by nearly every atom, the
    /// sublattices as clusters of positions modulo the lattice, then refines everything by
    /// least squares on growing neighbourhoods of the central atom.
    /// - Parameter minSublatticeFraction: a sublattice needs this fraction of the largest one's atoms.
    public static func fit(points: [SIMD2<Double>], minSublatticeFraction: Double = 0.3) throws -> FittedLattice {
        guard points.count >= 8 else { throw DefectLibraryError.latticeFitFailed("need ≥ 8 atoms, got \(points.count)") }
        guard points.allSatisfy({ $0.x.isFinite && $0.y.isFinite }) else {
            throw DefectLibraryError.latticeFitFailed("atom positions contain NaN or infinity")
        }
        let dnn = nearestNeighbourDistance(points)
        guard dnn > 0, dnn.isFinite else { throw DefectLibraryError.latticeFitFailed("atoms coincide") }
        let (a1, a2) = try translations(points, dnn: dnn)
        var lattice = FittedLattice(a1: a1, a2: a2, origin: .zero, basis: [.zero])
        let centroid = points.reduce(SIMD2<Double>.zero, +) / Double(points.count)
        let centre = points.indices.min { length(points[$0] - centroid) < length(points[$1] - centroid) }!
        lattice.origin = points[centre]
        let offsets = sublattices(points, lattice, dnn: dnn, minFraction: minSublatticeFraction)
        lattice.origin += offsets[0]   // the most populated sublattice defines the origin
        lattice.basis = offsets.map { $0 - offsets[0] }
        var radius = 4 * max(length(a1), length(a2))
        while true {
            let local = points.filter { length($0 - points[centre]) <= radius }
            lattice = try refine(local, lattice, tolerance: 0.3 * dnn)
            if local.count == points.count { break }
            radius *= 2
        }
        return lattice
    }

    static func nearestNeighbourDistance(_ p: [SIMD2<Double>]) -> Double {
        var lo = p[0], hi = p[0]
        for q in p { lo = pointwiseMin(lo, q); hi = pointwiseMax(hi, q) }
        let area = max((hi.x - lo.x) * (hi.y - lo.y), 1)
        let grid = PointGrid(p, cell: 2 * (area / Double(p.count)).squareRoot())
        let d = p.indices.map { grid.nearestDistance(to: p[$0], excluding: $0) }.filter { $0.isFinite }.sorted()
        return d.isEmpty ? 0 : d[d.count / 2]
    }

    /// Clusters all short difference vectors; lattice translations are those found from
    /// (nearly) every atom, unlike intra-cell bonds, which only one sublattice has.
    static func translations(_ p: [SIMD2<Double>], dnn: Double) throws -> (SIMD2<Double>, SIMD2<Double>) {
        let radius = 2.2 * dnn, tol = 0.2 * dnn
        let grid = PointGrid(p, cell: radius)
        var sums = [SIMD2<Double>](), counts = [Int]()
        for (i, q) in p.enumerated() {
            for j in grid.neighbours(of: q, within: radius) where j != i {
                let v = p[j] - q
                if let c = sums.indices.first(where: { length(sums[$0] / Double(counts[$0]) - v) < tol }) {
                    sums[c] += v; counts[c] += 1
                } else { sums.append(v); counts.append(1) }
            }
        }
        guard let top = counts.max() else { throw DefectLibraryError.latticeFitFailed("atoms have no neighbours") }
        let candidates = counts.indices.filter { Double(counts[$0]) >= 0.75 * Double(top) }
            .map { sums[$0] / Double(counts[$0]) }.sorted { length($0) < length($1) }
        guard let a1 = candidates.first else { throw DefectLibraryError.latticeFitFailed("no lattice vector") }
        let a2 = candidates.first { v in
            let cross = a1.x * v.y - a1.y * v.x
            return cross > 0.5 * length(a1) * length(v)   // angle 30°…150°, right-handed
        }
        guard let a2 else { throw DefectLibraryError.latticeFitFailed("no second, non-parallel lattice vector") }
        return (a1, a2)
    }

    /// Offsets of the occupied positions within the unit cell (clusters of fractional parts).
    static func sublattices(_ p: [SIMD2<Double>], _ l: FittedLattice, dnn: Double, minFraction: Double) -> [SIMD2<Double>] {
        var reps = [SIMD2<Double>](), deltaSums = [SIMD2<Double>](), counts = [Int]()
        for q in p {
            var f = l.fractional(q)
            f -= f.rounded(.down)
            var matched = false
            for c in reps.indices {
                var df = f - reps[c]
                df -= df.rounded(.toNearestOrEven)
                if length(df.x * l.a1 + df.y * l.a2) < 0.3 * dnn {
                    deltaSums[c] += df; counts[c] += 1; matched = true; break
                }
            }
            if !matched { reps.append(f); deltaSums.append(.zero); counts.append(1) }
        }
        let top = counts.max()!
        let kept = counts.indices.filter { Double(counts[$0]) >= minFraction * Double(top) }
            .sorted { counts[$0] > counts[$1] }
        let fracs = kept.map { reps[$0] + deltaSums[$0] / Double(counts[$0]) }
        // Offsets from the lattice origin (fractional position 0), wrapped to the nearest cell.
        return fracs.map { f in
            let df = f - f.rounded(.toNearestOrEven)
            return df.x * l.a1 + df.y * l.a2
        }
    }

    /// Least squares for x and y separately: p = o_s + n₁a₁ + n₂a₂ over atoms assigned to a site.
    static func refine(_ p: [SIMD2<Double>], _ l: FittedLattice, tolerance: Double) throws -> FittedLattice {
        let s = l.basis.count, m = s + 2
        var ata = [Double](repeating: 0, count: m * m), atb = [Double](repeating: 0, count: m * 2)
        var used = 0
        for q in p {
            var best: (Int, SIMD2<Double>, Double)?
            for (si, b) in l.basis.enumerated() {
                let f = l.fractional(q - b), n = f.rounded(.toNearestOrEven)
                let r = length(q - (l.origin + b + n.x * l.a1 + n.y * l.a2))
                if best == nil || r < best!.2 { best = (si, n, r) }
            }
            guard let (si, n, r) = best, r < tolerance else { continue }
            var row = [Double](repeating: 0, count: m)
            row[si] = 1; row[s] = n.x; row[s + 1] = n.y
            for a in 0..<m {
                for b in 0..<m { ata[a * m + b] += row[a] * row[b] }
                atb[a] += row[a] * q.x; atb[m + a] += row[a] * q.y
            }
            used += 1
        }
        guard used >= m + 2 else { throw DefectLibraryError.latticeFitFailed("only \(used) atoms sit on lattice sites") }
        var uplo = Int8(UInt8(ascii: "U")), nn = Int32(m), nrhs: Int32 = 2, info: Int32 = 0
        dpotrf_(&uplo, &nn, &ata, &nn, &info)
        guard info == 0 else { throw DefectLibraryError.latticeFitFailed("degenerate site assignment (dpotrf info \(info))") }
        dpotrs_(&uplo, &nn, &nrhs, ata, &nn, &atb, &nn, &info)
        guard info == 0 else { throw DefectLibraryError.lapackFailure(routine: "dpotrs", info: Int(info)) }
        let o = (0..<s).map { SIMD2(atb[$0], atb[m + $0]) }
        return FittedLattice(a1: SIMD2(atb[s], atb[m + s]), a2: SIMD2(atb[s + 1], atb[m + s + 1]),
                       origin: o[0], basis: o.map { $0 - o[0] })
    }
}
