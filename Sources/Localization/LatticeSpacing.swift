import Core
import Foundation

/// The frame's own scale: the nearest column distance of its lattice, measured from the located
/// atoms (any class). Against the material's spacing in Å it gives the pixel size (calibration
/// from the lattice).
public enum LatticeSpacing {
    /// The median length of the first-shell bonds, in pixels: every distance between an atom
    /// away from the frame edge and any other atom that lies within 0.5–1.35 × the median
    /// nearest-neighbour distance (the second shell of a hexagonal lattice is at 1.73×). The
    /// nearest-neighbour distance alone is biased short under position noise (the minimum of
    /// three noisy bonds): on the multislice frames at 10⁴ e/Å² by 10 % for graphene, while the
    /// shell median is within 0.5 % (docs/ACCURACY.md). nil with fewer than `minimumAtoms`
    /// atoms that have a neighbour within `searchRadius` (too little lattice to measure).
    public static func nearestColumnDistance(_ atoms: [Atom], searchRadius: Double, minimumAtoms: Int = 10) -> Double? {
        guard searchRadius > 0, searchRadius.isFinite else { return nil }
        let grid = CellGrid(xs: atoms.map(\.x), ys: atoms.map(\.y), cellSize: searchRadius)
        func distances(from i: Int) -> [Double] {
            var found: [Double] = []
            grid.forEachNeighbour(x: atoms[i].x, y: atoms[i].y) { j in
                let dx: Double = atoms[j].x - atoms[i].x, dy: Double = atoms[j].y - atoms[i].y
                let d: Double = (dx * dx + dy * dy).squareRoot()
                if j != i, d < searchRadius { found.append(d) }
            }
            return found
        }
        let inner = atoms.indices.filter { !atoms[$0].border }.map(distances)
        let nearest = inner.compactMap { $0.min() }
        guard nearest.count >= minimumAtoms else { return nil }
        let first: Double = Statistics.median(nearest)
        let low: Double = 0.5 * first, high: Double = 1.35 * first
        var shell: [Double] = []
        for list in inner { shell += list.filter { d in d > low && d < high } }
        return Statistics.median(shell)
    }
}
