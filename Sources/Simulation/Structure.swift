import Core
import Foundation

/// One atomic column of a simulated specimen.
public struct Column: Sendable, Equatable {
    /// Position in Å in the field (origin at the centre of the top-left pixel, x right, y down).
    public var position: Vec2
    public var symbol: String
    public var z: Int
    /// Atoms stacked in the column (an S-vacancy column of WS2 has 1 instead of 2).
    public var count: Int
    /// The lattice site it occupies (nil for adatoms and dopants between sites).
    public var site: SiteKey?
    /// The defect configuration it belongs to, or -1 for a lattice column.
    public var defectID: Int

    public init(position: Vec2, symbol: String, z: Int, count: Int, site: SiteKey?, defectID: Int = -1) {
        self.position = position; self.symbol = symbol; self.z = z; self.count = count
        self.site = site; self.defectID = defectID
    }
}

/// A point defect: its id, configuration (state) name and centre (Å, field coordinates).
public struct Defect: Sendable, Equatable {
    public var id: Int
    public var state: String
    public var position: Vec2
}

/// A specimen ready to image: its columns and the defects they form.
public struct Structure: Sendable {
    public var columns: [Column]
    public var defects: [Defect]
}

/// How a defect is made from the perfect lattice.
public struct DefectSpec: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        /// The host column becomes `element` (Si in graphene, Mo on a W site).
        case substitution
        /// The host column is removed (C vacancy; both S of an S2 column).
        case vacancy
        /// The host column and one neighbour of the same species are removed.
        case divacancy
        /// Two neighbouring host columns are removed and `element` sits at their midpoint (4-fold Si in graphene).
        case dopantInDivacancy
        /// One atom is removed from a multi-atom host column (S2 → S: the S-vacancy column).
        case columnVacancy
        /// An extra `element` atom sits on the hollow site of the host's cell.
        case adatom
    }
    public var kind: Kind
    /// Element symbol of the sites the defect sits on.
    public var host: String
    /// New element (substitution, dopant, adatom).
    public var element: String?
    /// Configuration name written to the ground truth, e.g. "Si-C3", "Mo_W+V_S".
    public var label: String
    /// Mean number per nm² (the count in a frame is Poisson); unused for movie states.
    public var density: Double?
    /// Also remove one atom from the nearest column of this element (Mo_W + adjacent S vacancy).
    public var adjacentColumnVacancy: String?
    /// Radial displacement (Å, + outward) of the first neighbour shell; decays as (r1/r)³.
    public var relaxation: Double?

    public init(kind: Kind, host: String, element: String? = nil, label: String, density: Double? = nil,
                adjacentColumnVacancy: String? = nil, relaxation: Double? = nil) {
        self.kind = kind; self.host = host; self.element = element; self.label = label
        self.density = density; self.adjacentColumnVacancy = adjacentColumnVacancy; self.relaxation = relaxation
    }
}

/// Columns of a lattice patch in the lattice frame, indexed by site, that defects edit.
struct SiteMap {
    let lattice: Lattice
    var columns: [Column]
    var index: [SiteKey: Int]

    init(lattice: Lattice, sites: [SiteKey]) {
        self.lattice = lattice
        columns = sites.map { k in
            let s = lattice.species(of: k)
            return Column(position: lattice.position(k), symbol: s.symbol, z: s.z, count: s.count, site: k)
        }
        index = Dictionary(uniqueKeysWithValues: sites.enumerated().map { ($1, $0) })
    }

    func column(at k: SiteKey) -> Int? {
        guard let c = index[k], columns[c].count > 0 else { return nil }
        return c
    }

    /// Sites neighbouring `k` whose species symbol is `symbol`, nearest shell only.
    func neighbours(of k: SiteKey, symbol: String) -> [SiteKey] {
        lattice.nearest(to: k.b) { lattice.species[lattice.basis[$0].species].symbol == symbol }
            .offsets.map { SiteKey(k.i, k.j, 0) + $0 }
    }

    /// Applies one defect at site `k`; `orientation` picks the partner among the neighbours.
    /// Returns the defect's centre (lattice frame, Å), or nil if the site or partner is missing.
    mutating func apply(_ spec: DefectSpec, at k: SiteKey, id: Int, orientation: Int) throws -> Vec2? {
        guard let c = column(at: k) else { return nil }
        let hostSymbol = columns[c].symbol
        func element() throws -> (String, Int) {
            guard let e = spec.element, let z = atomicNumbers[e] else {
                throw SimulationError.unknownElement(spec.element ?? "(none)")
            }
            return (e, z)
        }
        // The adjacent thinned column must exist before anything is changed.
        var adjacent: Int?
        if let x = spec.adjacentColumnVacancy {
            let partners = neighbours(of: k, symbol: x)
            guard !partners.isEmpty, let p = column(at: partners[orientation % partners.count]), columns[p].count > 1
            else { return nil }
            adjacent = p
        }
        var centre = columns[c].position
        switch spec.kind {
        case .substitution:
            let (e, z) = try element()
            columns[c].symbol = e; columns[c].z = z; columns[c].defectID = id
        case .vacancy:
            columns[c].count = 0
        case .columnVacancy:
            columns[c].count -= 1; columns[c].defectID = id
        case .divacancy, .dopantInDivacancy:
            guard adjacent == nil else { break }
            let partners = neighbours(of: k, symbol: hostSymbol)
            guard !partners.isEmpty, let p = column(at: partners[orientation % partners.count]) else { return nil }
            centre = (columns[c].position + columns[p].position) / 2
            columns[c].count = 0; columns[p].count = 0
            if spec.kind == .dopantInDivacancy {
                let (e, z) = try element()
                columns.append(Column(position: centre, symbol: e, z: z, count: 1, site: nil, defectID: id))
            }
        case .adatom:
            let (e, z) = try element()
            centre = Double(k.i) * lattice.a1 + Double(k.j) * lattice.a2
            columns.append(Column(position: centre, symbol: e, z: z, count: 1, site: nil, defectID: id))
        }
        if let p = adjacent { columns[p].count -= 1; columns[p].defectID = id }
        if let r = spec.relaxation, r != 0 { relax(around: centre, amplitude: r) }
        return centre
    }

    /// Pushes columns radially by amplitude·(r1/r)³ within 5 Å, r1 the nearest column distance.
    mutating func relax(around centre: Vec2, amplitude: Double) {
        let near = columns.indices.filter { columns[$0].count > 0 && distance(columns[$0].position, centre) < 5 }
        guard let r1 = near.map({ distance(columns[$0].position, centre) }).filter({ $0 > 0.3 }).min() else { return }
        for i in near {
            let d = columns[i].position - centre, r = distance(columns[i].position, centre)
            if r > 0.3 { columns[i].position += d / r * amplitude * pow(r1 / r, 3) }
        }
    }

    /// The columns in field coordinates, empty ones dropped.
    func placed(_ placement: Placement) -> [Column] {
        columns.compactMap { c in
            guard c.count > 0 else { return nil }
            var o = c; o.position = placement.apply(c.position); return o
        }
    }
}

@inline(__always) func distance(_ a: Vec2, _ b: Vec2) -> Double { let d = a - b; return (d * d).sum().squareRoot() }

/// Builds a specimen filling a field of `width` × `height` Å (plus `margin` so edge atoms render whole),
/// with randomly placed defects and small random displacements (`thermalJitter`, Å rms per axis).
public func buildStructure(lattice: Lattice, width: Double, height: Double, margin: Double,
                           placement: Placement, defects: [DefectSpec], thermalJitter: Double = 0,
                           rng: inout SeededGenerator) throws -> Structure {
    let sites = lattice.sites(covering: width, height, margin: margin, transform: placement)
    var map = SiteMap(lattice: lattice, sites: sites)
    let inside = sites.filter { k in
        let p = placement.apply(lattice.position(k))
        return p.x >= 0 && p.x <= width && p.y >= 0 && p.y <= height
    }
    let areaNm2 = width * height / 100
    var made: [Defect] = []
    var centres: [Vec2] = []  // lattice frame, to keep defects apart
    let spacing = 2.5 * lattice.a
    for spec in defects {
        let candidates = inside.filter { lattice.species(of: $0).symbol == spec.host }
        guard !candidates.isEmpty else { continue }
        let n = rng.poisson((spec.density ?? 0) * areaNm2)
        for _ in 0..<n {
            for _ in 0..<30 {  // a few tries to find a free spot
                let k = candidates[rng.int(candidates.count)]
                let p = lattice.position(k)
                if centres.contains(where: { distance($0, p) < spacing }) { continue }
                let id = made.count
                if let c = try map.apply(spec, at: k, id: id, orientation: rng.int(6)) {
                    centres.append(c)
                    made.append(Defect(id: id, state: spec.label, position: placement.apply(c)))
                }
                break
            }
        }
    }
    var columns = map.placed(placement)
    if thermalJitter > 0 {
        for i in columns.indices { columns[i].position += Vec2(rng.normal(), rng.normal()) * thermalJitter }
    }
    return Structure(columns: columns, defects: made)
}
