import Core
import Foundation
import Simulation

/// A connected set of empty lattice sites: a vacuum region (a hole: at least one empty site all of whose
/// lattice neighbours are empty too, so there is no lattice there at all) or a vacancy cluster (every empty
/// site still touches the lattice). Area = sites × the material's area per site (Å²), so it needs no pixel size.
public struct VoidRegion: Sendable, Equatable {
    public var sites: Int
    public var areaA2: Double
    public var isVacuum: Bool
    /// Centroid (pixels).
    public var x: Double, y: Double
}

/// The voids of one frame: its vacuum regions, vacancy clusters (≥ 2 sites) and single vacancies.
public struct FrameVoids: Sendable, Equatable {
    public var regions: [VoidRegion]
    public var vacuum: [VoidRegion] { regions.filter(\.isVacuum) }
    public var clusters: [VoidRegion] { regions.filter { !$0.isVacuum && $0.sites >= 2 } }
    public var singleVacancies: Int { regions.filter { !$0.isVacuum && $0.sites == 1 }.count }
    public var vacuumAreaA2: Double { vacuum.reduce(0) { $0 + $1.areaA2 } }
    public var clusterAreaA2: Double { clusters.reduce(0) { $0 + $1.areaA2 } }

    /// Groups the empty sites of an analysis into regions: two empty sites belong together when they are
    /// lattice neighbours (closer than 1.2 × the nearest-site distance).
    public init(_ analysis: LatticeAnalysis) {
        let sites = analysis.sites
        let lattice = analysis.material.lattice
        let nearest = lattice.nearest(to: 0) { _ in true }.distance / analysis.fit.pixelSize
        let reach = 1.2 * nearest
        let grid = CellGrid(xs: sites.map(\.x), ys: sites.map(\.y), cellSize: reach)
        let empty = sites.map { analysis.kind(of: $0).isVacancy }
        var parent = Array(sites.indices)
        func root(_ i: Int) -> Int { var i = i; while parent[i] != i { parent[i] = parent[parent[i]]; i = parent[i] }; return i }
        var interior = [Bool](repeating: false, count: sites.count)
        for i in sites.indices where empty[i] {
            var allEmpty = true, neighbours = 0
            grid.forEachNeighbour(x: sites[i].x, y: sites[i].y) { j in
                guard j != i, hypot(sites[j].x - sites[i].x, sites[j].y - sites[i].y) < reach else { return }
                neighbours += 1
                if empty[j] { parent[root(j)] = root(i) } else { allEmpty = false }
            }
            // A site at the analysed area's edge has lost neighbours: it is interior only if it kept most of them.
            interior[i] = allEmpty && neighbours >= 3
        }
        var groups: [Int: [Int]] = [:]
        for i in sites.indices where empty[i] { groups[root(i), default: []].append(i) }
        regions = groups.values.map { members in
            VoidRegion(sites: members.count, areaA2: Double(members.count) * analysis.material.areaPerSite,
                       isVacuum: members.contains { interior[$0] },
                       x: members.reduce(0) { $0 + sites[$1].x } / Double(members.count),
                       y: members.reduce(0) { $0 + sites[$1].y } / Double(members.count))
        }.sorted { ($0.y, $0.x) < ($1.y, $1.x) }
    }
}
