import Foundation

/// A 2-D vector in Å (or pixels where stated).
public typealias Vec2 = SIMD2<Double>

/// One kind of atomic column: an element and how many atoms are stacked along the beam.
public struct Species: Codable, Sendable, Hashable {
    /// Element symbol, e.g. "C", "W", "S".
    public var symbol: String
    /// Atomic number.
    public var z: Int
    /// Atoms in the column (2 for the X2 chalcogen column of a TMD).
    public var count: Int

    public init(_ symbol: String, z: Int, count: Int = 1) {
        self.symbol = symbol; self.z = z; self.count = count
    }
}

/// Atomic numbers of the elements the simulator knows by symbol.
public let atomicNumbers: [String: Int] = [
    "B": 5, "C": 6, "N": 7, "O": 8, "Si": 14, "P": 15, "S": 16, "Cr": 24, "Fe": 26,
    "Se": 34, "Mo": 42, "Te": 52, "W": 74, "Re": 75, "Pt": 78, "Au": 79,
]

/// A site of the lattice's basis: fractional coordinates in the cell and the index of its species.
public struct BasisSite: Sendable, Hashable {
    public var fractional: Vec2
    public var species: Int
    public init(_ u: Double, _ v: Double, species: Int) { fractional = Vec2(u, v); self.species = species }
}

/// A lattice site: cell indices (i, j) and basis index b.
public struct SiteKey: Hashable, Sendable, Comparable {
    public var i: Int, j: Int, b: Int
    public init(_ i: Int, _ j: Int, _ b: Int) { self.i = i; self.j = j; self.b = b }
    public static func < (l: SiteKey, r: SiteKey) -> Bool { (l.j, l.i, l.b) < (r.j, r.i, r.b) }
    public static func + (l: SiteKey, r: SiteKey) -> SiteKey { SiteKey(l.i + r.i, l.j + r.j, r.b) }
}

/// A 2-D crystal in projection: two lattice vectors, a basis and a species table.
/// Adding a material means adding one of these; nothing else in the module changes.
public struct Lattice: Sendable {
    public var name: String
    /// Lattice vectors in Å.
    public var a1: Vec2, a2: Vec2
    public var basis: [BasisSite]
    public var species: [Species]

    public init(name: String, a1: Vec2, a2: Vec2, basis: [BasisSite], species: [Species]) {
        self.name = name; self.a1 = a1; self.a2 = a2; self.basis = basis; self.species = species
    }

    /// Hexagonal lattice constant |a1|.
    public var a: Double { (a1 * a1).sum().squareRoot() }

    /// Position (Å, unrotated lattice frame) of a site.
    public func position(_ s: SiteKey) -> Vec2 {
        let f = basis[s.b].fractional
        return (Double(s.i) + f.x) * a1 + (Double(s.j) + f.y) * a2
    }

    /// Species of a site.
    public func species(of s: SiteKey) -> Species { species[basis[s.b].species] }

    /// Nearest sites of `site` among those for which `accept(basisIndex)` holds, with their distance (Å).
    /// Returned as offsets to add to the site's (i, j) with the neighbour's basis index.
    public func nearest(to b: Int, where accept: (Int) -> Bool) -> (offsets: [SiteKey], distance: Double) {
        let origin = position(SiteKey(0, 0, b))
        var found: [(SiteKey, Double)] = []
        for j in -2...2 { for i in -2...2 { for nb in basis.indices where accept(nb) {
            let k = SiteKey(i, j, nb)
            if i == 0 && j == 0 && nb == b { continue }
            let d = position(k) - origin
            found.append((k, (d * d).sum().squareRoot()))
        } } }
        guard let dmin = found.map(\.1).min() else { return ([], 0) }
        return (found.filter { $0.1 < dmin * 1.01 }.map(\.0).sorted(), dmin)
    }

    /// Hop neighbours of a site: the nearest sites whose species is the same as this site's
    /// (graphene: the three C neighbours at a/√3; TMD metal: six metals at a).
    public func hopNeighbours(of b: Int) -> (offsets: [SiteKey], distance: Double) {
        nearest(to: b) { self.basis[$0].species == self.basis[b].species }
    }

    // MARK: presets

    /// Hexagonal vectors for lattice constant a (Å).
    static func hexagonal(_ a: Double) -> (Vec2, Vec2) { (Vec2(a, 0), Vec2(a / 2, a * 3.0.squareRoot() / 2)) }

    /// Graphene, a = 2.46 Å (C–C 1.42 Å).
    public static func graphene(a: Double = 2.46) -> Lattice {
        let (v1, v2) = hexagonal(a)
        return Lattice(name: "graphene", a1: v1, a2: v2,
                       basis: [BasisSite(1.0 / 3, 1.0 / 3, species: 0), BasisSite(2.0 / 3, 2.0 / 3, species: 0)],
                       species: [Species("C", z: 6)])
    }

    /// Hexagonal boron nitride, a = 2.50 Å.
    public static func hBN(a: Double = 2.504) -> Lattice {
        let (v1, v2) = hexagonal(a)
        return Lattice(name: "hBN", a1: v1, a2: v2,
                       basis: [BasisSite(1.0 / 3, 1.0 / 3, species: 0), BasisSite(2.0 / 3, 2.0 / 3, species: 1)],
                       species: [Species("B", z: 5), Species("N", z: 7)])
    }

    /// A 2H transition-metal dichalcogenide monolayer in projection: metal columns and X2 columns
    /// on the two sublattices of a honeycomb (metal–X2 projected distance a/√3).
    public static func tmd(metal: String, chalcogen: String, a: Double) -> Lattice {
        let (v1, v2) = hexagonal(a)
        return Lattice(name: metal + chalcogen + "2", a1: v1, a2: v2,
                       basis: [BasisSite(1.0 / 3, 1.0 / 3, species: 0), BasisSite(2.0 / 3, 2.0 / 3, species: 1)],
                       species: [Species(metal, z: atomicNumbers[metal] ?? 0),
                                 Species(chalcogen, z: atomicNumbers[chalcogen] ?? 0, count: 2)])
    }

    /// The lattices known by name: graphene, hBN, MoS2, WS2, MoSe2, WSe2.
    public static func named(_ name: String) throws -> Lattice {
        switch name.lowercased() {
        case "graphene": return .graphene()
        case "hbn": return .hBN()
        case "mos2": return .tmd(metal: "Mo", chalcogen: "S", a: 3.160)
        case "ws2": return .tmd(metal: "W", chalcogen: "S", a: 3.182)
        case "mose2": return .tmd(metal: "Mo", chalcogen: "Se", a: 3.288)
        case "wse2": return .tmd(metal: "W", chalcogen: "Se", a: 3.282)
        default: throw SimulationError.unknownLattice(name)
        }
    }

    /// Every site whose position, after `transform`, lies inside [-margin, w+margin] × [-margin, h+margin] (Å).
    public func sites(covering w: Double, _ h: Double, margin: Double, transform: Placement) -> [SiteKey] {
        // Corners of the field back in lattice coordinates give the (i, j) range to scan.
        let inv = 1 / (a1.x * a2.y - a1.y * a2.x)
        var iMin = Int.max, iMax = Int.min, jMin = Int.max, jMax = Int.min
        for c in [Vec2(-margin, -margin), Vec2(w + margin, -margin), Vec2(-margin, h + margin), Vec2(w + margin, h + margin)] {
            let p = transform.inverse(c)
            let fi = (p.x * a2.y - p.y * a2.x) * inv, fj = (a1.x * p.y - a1.y * p.x) * inv
            iMin = min(iMin, Int(floor(fi)) - 1); iMax = max(iMax, Int(ceil(fi)) + 1)
            jMin = min(jMin, Int(floor(fj)) - 1); jMax = max(jMax, Int(ceil(fj)) + 1)
        }
        var out: [SiteKey] = []
        for j in jMin...jMax { for i in iMin...iMax { for b in basis.indices {
            let k = SiteKey(i, j, b)
            let p = transform.apply(position(k))
            if p.x >= -margin && p.x <= w + margin && p.y >= -margin && p.y <= h + margin { out.append(k) }
        } } }
        return out
    }
}

/// Where the lattice sits in the field: rotation (rad) about the lattice origin, then a shift (Å),
/// plus a small homogeneous strain applied before rotation.
public struct Placement: Sendable, Equatable {
    public var rotation: Double
    public var shift: Vec2
    /// Strain tensor components (εxx, εyy, εxy), dimensionless.
    public var strain: SIMD3<Double>

    public init(rotation: Double = 0, shift: Vec2 = .zero, strain: SIMD3<Double> = .zero) {
        self.rotation = rotation; self.shift = shift; self.strain = strain
    }

    public func apply(_ p: Vec2) -> Vec2 {
        let s = Vec2(p.x * (1 + strain.x) + p.y * strain.z, p.x * strain.z + p.y * (1 + strain.y))
        let c = cos(rotation), sn = sin(rotation)
        return Vec2(c * s.x - sn * s.y, sn * s.x + c * s.y) + shift
    }

    public func inverse(_ q: Vec2) -> Vec2 {
        let d = q - shift
        let c = cos(rotation), sn = sin(rotation)
        let r = Vec2(c * d.x + sn * d.y, -sn * d.x + c * d.y)
        let a = 1 + strain.x, b = strain.z, dd = 1 + strain.y
        let det = a * dd - b * b
        return Vec2((dd * r.x - b * r.y) / det, (-b * r.x + a * r.y) / det)
    }
}

/// Errors of the simulator, each a single line naming the problem.
public enum SimulationError: Error, CustomStringConvertible, Equatable {
    case unknownLattice(String)
    case unknownElement(String)
    case invalidParameter(String)
    case invalidRecipe(String)

    public var description: String {
        switch self {
        case .unknownLattice(let n): return "unknown lattice '\(n)' (known: graphene, hBN, MoS2, WS2, MoSe2, WSe2)"
        case .unknownElement(let e): return "unknown element '\(e)'"
        case .invalidParameter(let m): return "invalid simulation parameter: \(m)"
        case .invalidRecipe(let m): return "invalid recipe: \(m)"
        }
    }
}
