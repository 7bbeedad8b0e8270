/// A candidate pairing of row `row` with column `column` at `cost`.
public struct CandidateEdge: Sendable, Equatable {
    public var row: Int
    public var column: Int
    public var cost: Double
    public init(row: Int, column: Int, cost: Double) { self.row = row; self.column = column; self.cost = cost }
}

extension LinearAssignment {
    /// Optimal partial assignment over a list of candidate edges, solved separately
    /// on each connected component of the bipartite candidate graph (exact, since
    /// components share no edges). Unassigned rows cost `rowUnassignedCost`, unassigned
    /// columns `columnUnassignedCost`. Returns `columnOfRow` (-1 = unassigned).
    /// Throws on an edge out of range, a non-finite cost or a negative row/column count.
    public static func solvePartial(rows: Int, columns: Int, edges: [CandidateEdge],
                                    rowUnassignedCost: Double, columnUnassignedCost: Double) throws -> [Int] {
        guard rows >= 0, columns >= 0 else { throw LinearAssignmentError.shapeMismatch("negative size \(rows)×\(columns)") }
        guard rowUnassignedCost.isFinite, columnUnassignedCost.isFinite else {
            throw LinearAssignmentError.invalidEntry("unassigned costs must be finite")
        }
        for (k, e) in edges.enumerated() {
            guard e.row >= 0 && e.row < rows && e.column >= 0 && e.column < columns else {
                throw LinearAssignmentError.invalidEntry("edge \(k) (\(e.row), \(e.column)) outside \(rows)×\(columns)")
            }
            guard e.cost.isFinite else { throw LinearAssignmentError.invalidEntry("edge \(k) has cost \(e.cost)") }
        }
        return solveComponents(rows: rows, columns: columns, edges: edges,
                               rowUnassignedCost: rowUnassignedCost, columnUnassignedCost: columnUnassignedCost)
    }

    /// `solvePartial(rows:columns:edges:…)` for edges known to be valid.
    public static func solveComponents(rows: Int, columns: Int, edges: [CandidateEdge],
                                rowUnassignedCost: Double, columnUnassignedCost: Double) -> [Int] {
        var columnOfRow = [Int](repeating: -1, count: rows)
        guard rows > 0, columns > 0, !edges.isEmpty else { return columnOfRow }
        // Union-find over rows [0, rows) and columns [rows, rows+columns).
        var parent = Array(0..<(rows + columns))
        func find(_ a: Int) -> Int {
            var a = a
            while parent[a] != a { parent[a] = parent[parent[a]]; a = parent[a] }
            return a
        }
        for e in edges {
            let a = find(e.row), b = find(rows + e.column)
            if a != b { parent[max(a, b)] = min(a, b) }
        }
        // Group edges by component root (counting sort keeps it linear).
        var edgeCount = [Int](repeating: 0, count: rows + columns + 1)
        var roots = [Int](repeating: 0, count: edges.count)
        for (k, e) in edges.enumerated() { let r = find(e.row); roots[k] = r; edgeCount[r + 1] += 1 }
        for i in 0..<(rows + columns) { edgeCount[i + 1] += edgeCount[i] }
        var order = [Int](repeating: 0, count: edges.count)
        var fill = edgeCount
        for k in 0..<edges.count { order[fill[roots[k]]] = k; fill[roots[k]] += 1 }

        var localRow = [Int](repeating: -1, count: rows), localColumn = [Int](repeating: -1, count: columns)
        var rowIds: [Int] = [], columnIds: [Int] = [], edgeRows: [Int] = [], edgeColumns: [Int] = [], edgeCosts: [Double] = []
        var solver = AugmentingPathSolver()
        for root in 0..<(rows + columns) where edgeCount[root + 1] > edgeCount[root] {
            let ids = order[edgeCount[root]..<edgeCount[root + 1]]
            if ids.count == 1 {  // the common isolated pair: link if cheaper than birth + death
                let e = edges[ids.first!]
                if e.cost < rowUnassignedCost + columnUnassignedCost { columnOfRow[e.row] = e.column }
                continue
            }
            if let pick = starPick(ids, edges, birthPlusDeath: rowUnassignedCost + columnUnassignedCost) {
                if pick >= 0 { columnOfRow[edges[pick].row] = edges[pick].column }
                continue
            }
            rowIds.removeAll(keepingCapacity: true); columnIds.removeAll(keepingCapacity: true)
            edgeRows.removeAll(keepingCapacity: true); edgeColumns.removeAll(keepingCapacity: true)
            edgeCosts.removeAll(keepingCapacity: true)
            for k in ids {
                let e = edges[k]
                if localRow[e.row] < 0 { localRow[e.row] = rowIds.count; rowIds.append(e.row) }
                if localColumn[e.column] < 0 { localColumn[e.column] = columnIds.count; columnIds.append(e.column) }
                edgeRows.append(localRow[e.row]); edgeColumns.append(localColumn[e.column]); edgeCosts.append(e.cost)
            }
            solver.solveAugmented(rows: rowIds.count, columns: columnIds.count, edgeRows: edgeRows,
                                  edgeColumns: edgeColumns, edgeCosts: edgeCosts,
                                  death: rowUnassignedCost, birth: columnUnassignedCost)
            for lr in 0..<rowIds.count where solver.columnOfRow[lr] < columnIds.count {
                columnOfRow[rowIds[lr]] = columnIds[solver.columnOfRow[lr]]
            }
            for r in rowIds { localRow[r] = -1 }
            for c in columnIds { localColumn[c] = -1 }
        }
        return columnOfRow
    }

    /// A component with one row (or one column) is a star: at most one edge can be
    /// used, and the cheapest one is used when it beats leaving both ends unassigned.
    /// Returns the edge to use (-1: none), or nil when the component is not a star.
    @inline(__always)
    static func starPick(_ ids: ArraySlice<Int>, _ edges: [CandidateEdge], birthPlusDeath: Double) -> Int? {
        let first = edges[ids.first!]
        var oneRow = true, oneColumn = true, best = ids.first!
        for k in ids {
            let e = edges[k]
            if e.row != first.row { oneRow = false }
            if e.column != first.column { oneColumn = false }
            if e.cost < edges[best].cost { best = k }
        }
        guard oneRow || oneColumn else { return nil }
        return edges[best].cost < birthPlusDeath ? best : -1
    }

    /// What a one-to-one matching of two point sets optimizes.
    public enum MatchObjective: Sendable {
        /// Linking: least summed squared distance plus `maxDistance²/2` per point left unmatched.
        case leastSquaredDistance
        /// Scoring detections against truth: the most pairs, and among those the least summed
        /// distance (precision and recall must not depend on a cost trade-off).
        case mostPairs
    }

    /// Matches two point sets one to one within `maxDistance` (exact: an assignment per
    /// connected component of the candidate graph). Returns (index in `a`, index in `b`,
    /// distance) sorted by the index in `a`; an invalid radius matches nothing.
    public static func matchPoints(_ a: [(x: Double, y: Double)], _ b: [(x: Double, y: Double)], maxDistance: Double,
                                   objective: MatchObjective = .leastSquaredDistance) -> [(Int, Int, Double)] {
        guard maxDistance > 0, maxDistance.isFinite, !a.isEmpty, !b.isEmpty else { return [] }
        let grid = CellGrid(xs: b.map(\.x), ys: b.map(\.y), cellSize: maxDistance)
        var edges: [CandidateEdge] = []
        let r2 = maxDistance * maxDistance
        for (i, p) in a.enumerated() {
            grid.forEachNeighbour(x: p.x, y: p.y) { j in
                let dx = b[j].x - p.x, dy = b[j].y - p.y
                let d2 = dx * dx + dy * dy
                guard d2 <= r2 else { return }
                edges.append(CandidateEdge(row: i, column: j, cost: objective == .mostPairs ? d2.squareRoot() : d2))
            }
        }
        // For the most pairs, an unmatched pair costs more than all real pairs together.
        let unmatched = objective == .mostPairs ? (maxDistance * Double(min(a.count, b.count) + 1) + 1) / 2 : r2 / 2
        let match = solveComponents(rows: a.count, columns: b.count, edges: edges,
                                    rowUnassignedCost: unmatched, columnUnassignedCost: unmatched)
        return match.enumerated().compactMap { i, j in
            j >= 0 ? (i, j, ((a[i].x - b[j].x) * (a[i].x - b[j].x) + (a[i].y - b[j].y) * (a[i].y - b[j].y)).squareRoot()) : nil
        }
    }
}

/// A uniform cell grid over points for fixed-radius neighbour queries
/// (3×3 cells around the query when cellSize ≥ radius).
public struct CellGrid: Sendable {
    let x0: Double, y0: Double, cell: Double
    let nx: Int, ny: Int
    let start: [Int]   // cell c holds points order[start[c]..<start[c+1]]
    let order: [Int]

    public init(xs: [Double], ys: [Double], cellSize: Double) {
        var minX = Double.infinity, minY = Double.infinity, maxX = -Double.infinity, maxY = -Double.infinity
        for i in 0..<xs.count where xs[i].isFinite && ys[i].isFinite {
            minX = min(minX, xs[i]); maxX = max(maxX, xs[i]); minY = min(minY, ys[i]); maxY = max(maxY, ys[i])
        }
        if !minX.isFinite { minX = 0; minY = 0; maxX = 0; maxY = 0 }
        // Cap the cell count so scattered outliers cannot blow up memory.
        var size = cellSize
        let budget = Double(max(4 * xs.count, 64))
        while ((maxX - minX) / size + 1) * ((maxY - minY) / size + 1) > budget { size *= 2 }
        x0 = minX; y0 = minY; cell = size
        nx = Int((maxX - minX) / size) + 1; ny = Int((maxY - minY) / size) + 1
        var counts = [Int](repeating: 0, count: nx * ny + 1)
        var cellOf = [Int](repeating: -1, count: xs.count)
        for i in 0..<xs.count where xs[i].isFinite && ys[i].isFinite {
            let c = Int((ys[i] - minY) / size) * nx + Int((xs[i] - minX) / size)
            cellOf[i] = c; counts[c + 1] += 1
        }
        for c in 0..<(nx * ny) { counts[c + 1] += counts[c] }
        var fill = counts
        var order = [Int](repeating: 0, count: counts[nx * ny])
        for i in 0..<xs.count where cellOf[i] >= 0 { order[fill[cellOf[i]]] = i; fill[cellOf[i]] += 1 }
        start = counts; self.order = order
    }

    /// Calls `body` with every point in the 3×3 cells around (x, y).
    @inline(__always)
    public func forEachNeighbour(x: Double, y: Double, _ body: (Int) -> Void) {
        guard x.isFinite && y.isFinite else { return }
        let fx = ((x - x0) / cell).rounded(.down), fy = ((y - y0) / cell).rounded(.down)
        guard fx >= -1, fy >= -1, fx <= Double(nx), fy <= Double(ny) else { return }
        let cx = Int(fx), cy = Int(fy)
        for gy in max(cy - 1, 0)...min(cy + 1, ny - 1) where gy >= 0 && gy < ny {
            for gx in max(cx - 1, 0)...min(cx + 1, nx - 1) where gx >= 0 && gx < nx {
                let c = gy * nx + gx
                for k in start[c]..<start[c + 1] { body(order[k]) }
            }
        }
    }
}
