/// Errors of the linear-assignment solver.
public enum LinearAssignmentError: Error, CustomStringConvertible, Equatable {
    /// Array lengths disagree with the stated matrix shape.
    case shapeMismatch(String)
    /// A cost is NaN or infinite, or a column index is out of range.
    case invalidEntry(String)
    /// Not every row can be matched (a full assignment was asked for).
    case infeasible(row: Int)

    public var description: String {
        switch self {
        case .shapeMismatch(let what): return "linear assignment: shape mismatch: \(what)"
        case .invalidEntry(let what): return "linear assignment: invalid entry: \(what)"
        case .infeasible(let row): return "linear assignment: row \(row) cannot be assigned to any free column"
        }
    }
}

/// A sparse cost matrix in compressed-row form: the entries of row `r` are
/// `columns[rowStart[r]..<rowStart[r+1]]` with costs `costs[...]`. A missing entry
/// means "this row may not be assigned to this column".
public struct SparseCostMatrix: Sendable {
    public let columnCount: Int
    public private(set) var rowStart: [Int]
    public private(set) var columns: [Int]
    public private(set) var costs: [Double]

    /// Number of rows.
    public var rowCount: Int { rowStart.count - 1 }

    /// An empty matrix with no rows; fill it row by row with `appendRow`.
    public init(columnCount: Int) {
        self.columnCount = columnCount
        rowStart = [0]
        columns = []
        costs = []
    }

    /// Builds the matrix from explicit compressed-row arrays (validated).
    public init(rowCount: Int, columnCount: Int, rowStart: [Int], columns: [Int], costs: [Double]) throws {
        guard rowCount >= 0, columnCount >= 0, rowStart.count == rowCount + 1, rowStart.first == 0,
              rowStart.last == columns.count, columns.count == costs.count
        else { throw LinearAssignmentError.shapeMismatch("rowStart must have rowCount+1 entries from 0 to columns.count; columns and costs equal length") }
        for r in 0..<rowCount where rowStart[r] > rowStart[r + 1] {
            throw LinearAssignmentError.shapeMismatch("rowStart decreases at row \(r)")
        }
        for (k, c) in columns.enumerated() {
            guard c >= 0 && c < columnCount else { throw LinearAssignmentError.invalidEntry("column \(c) out of range 0..<\(columnCount)") }
            guard costs[k].isFinite else { throw LinearAssignmentError.invalidEntry("cost \(costs[k]) at entry \(k)") }
        }
        self.columnCount = columnCount
        self.rowStart = rowStart
        self.columns = columns
        self.costs = costs
    }

    /// Builds a dense matrix (row-major `rows × columns`); every entry is allowed.
    public init(dense: [Double], rows: Int, columns columnCount: Int) throws {
        guard rows >= 0, columnCount >= 0, dense.count == rows * columnCount else {
            throw LinearAssignmentError.shapeMismatch("dense has \(dense.count) entries, expected \(rows)×\(columnCount)")
        }
        try self.init(rowCount: rows, columnCount: columnCount,
                      rowStart: (0...rows).map { $0 * columnCount },
                      columns: (0..<(rows * columnCount)).map { $0 % max(columnCount, 1) },
                      costs: dense)
    }

    /// Appends one row with the given (column, cost) entries; the caller keeps
    /// columns in range and costs finite (use the throwing initialiser for untrusted data).
    public mutating func appendRow<S: Sequence>(_ entries: S) where S.Element == (Int, Double) {
        for (c, w) in entries { columns.append(c); costs.append(w) }
        rowStart.append(columns.count)
    }
}

/// The result of an assignment: `columnOfRow[r]` is the column given to row `r`
/// or -1 when the row is unassigned; `rowOfColumn` is the inverse.
public struct Assignment: Sendable, Equatable {
    public var columnOfRow: [Int]
    public var rowOfColumn: [Int]
    /// Total cost, including the costs of leaving rows/columns unassigned.
    public var cost: Double
}

/// Optimal one-to-one assignment by shortest augmenting paths (the Jonker–Volgenant
/// family: Dijkstra on reduced costs with dual potentials), on sparse cost matrices.
/// Work per augmentation is proportional to the entries it touches, so sparse
/// problems with thousands of rows stay fast.
public enum LinearAssignment {

    /// Minimum-cost assignment in which every row gets a column (`rows ≤ columns`
    /// needed). Throws `.infeasible` when the allowed entries admit no such matching.
    public static func solveFull(_ matrix: SparseCostMatrix) throws -> Assignment {
        let n = matrix.rowCount
        guard n <= matrix.columnCount else {
            throw LinearAssignmentError.shapeMismatch("\(n) rows exceed \(matrix.columnCount) columns; transpose the problem")
        }
        var solver = AugmentingPathSolver(matrix)
        for r in 0..<n where !solver.augment(from: r) { throw LinearAssignmentError.infeasible(row: r) }
        solver.columnOfRow.removeSubrange(n...); solver.rowOfColumn.removeSubrange(matrix.columnCount...)
        var total = 0.0
        for r in 0..<n {
            let c = solver.columnOfRow[r]
            for k in matrix.rowStart[r]..<matrix.rowStart[r + 1] where matrix.columns[k] == c {
                total += matrix.costs[k]; break
            }
        }
        return Assignment(columnOfRow: solver.columnOfRow, rowOfColumn: solver.rowOfColumn, cost: total)
    }

    /// Minimum-cost dense rectangular assignment: `min(rows, columns)` pairs.
    public static func solve(dense: [Double], rows: Int, columns: Int) throws -> Assignment {
        if rows <= columns {
            return try solveFull(SparseCostMatrix(dense: dense, rows: rows, columns: columns))
        }
        var transposed = [Double](repeating: 0, count: dense.count)
        for r in 0..<rows { for c in 0..<columns { transposed[c * rows + r] = dense[r * columns + c] } }
        let t = try solveFull(SparseCostMatrix(dense: transposed, rows: columns, columns: rows))
        return Assignment(columnOfRow: t.rowOfColumn, rowOfColumn: t.columnOfRow, cost: t.cost)
    }

    /// Minimum-cost *partial* assignment: row `r` may stay unassigned at cost
    /// `rowUnassignedCost[r]` (a death), column `c` at `columnUnassignedCost[c]`
    /// (a birth). Solved exactly on Jaqaman's augmented matrix
    /// `[[C, D], [B, Cᵀ·0]]`, which always has a perfect matching.
    public static func solvePartial(_ matrix: SparseCostMatrix, rowUnassignedCost: [Double],
                                    columnUnassignedCost: [Double]) throws -> Assignment {
        let n = matrix.rowCount, m = matrix.columnCount
        guard rowUnassignedCost.count == n, columnUnassignedCost.count == m else {
            throw LinearAssignmentError.shapeMismatch("unassigned costs need \(n) row and \(m) column entries")
        }
        guard rowUnassignedCost.allSatisfy(\.isFinite), columnUnassignedCost.allSatisfy(\.isFinite) else {
            throw LinearAssignmentError.invalidEntry("unassigned costs must be finite")
        }
        // Transposed sparsity for the lower-right block: dummy row n+c may take dummy column m+r.
        var lowerRight = [[Int]](repeating: [], count: m)
        for r in 0..<n { for k in matrix.rowStart[r]..<matrix.rowStart[r + 1] { lowerRight[matrix.columns[k]].append(r) } }
        var big = SparseCostMatrix(columnCount: n + m)
        for r in 0..<n {
            let range = matrix.rowStart[r]..<matrix.rowStart[r + 1]
            big.appendRow(range.map { (matrix.columns[$0], matrix.costs[$0]) } + [(m + r, rowUnassignedCost[r])])
        }
        for c in 0..<m {
            big.appendRow([(c, columnUnassignedCost[c])] + lowerRight[c].map { (m + $0, 0.0) })
        }
        let full = try solveFull(big)
        var columnOfRow = [Int](repeating: -1, count: n), rowOfColumn = [Int](repeating: -1, count: m)
        var cost = 0.0
        for r in 0..<n {
            let c = full.columnOfRow[r]
            if c < m { columnOfRow[r] = c; rowOfColumn[c] = r }
        }
        for r in 0..<n where columnOfRow[r] < 0 { cost += rowUnassignedCost[r] }
        for c in 0..<m where rowOfColumn[c] < 0 { cost += columnUnassignedCost[c] }
        for r in 0..<n where columnOfRow[r] >= 0 {
            for k in matrix.rowStart[r]..<matrix.rowStart[r + 1] where matrix.columns[k] == columnOfRow[r] {
                cost += matrix.costs[k]; break
            }
        }
        return Assignment(columnOfRow: columnOfRow, rowOfColumn: rowOfColumn, cost: cost)
    }
}

/// Successive shortest augmenting paths with potentials; reduced costs
/// `c - u[r] - v[c]` stay non-negative so Dijkstra applies. The problem lives in
/// the solver's own CSR arrays, and all storage is reused from one `load` to the
/// next, so solving thousands of small components allocates almost nothing.
struct AugmentingPathSolver {
    // The problem: `rows` rows over `cols` columns in compressed-row form.
    var rows = 0, cols = 0
    var rowStart: [Int] = [0], entryColumn: [Int] = [], entryCost: [Double] = []
    // Duals and matching.
    var u: [Double] = [], v: [Double] = []
    var columnOfRow: [Int] = [], rowOfColumn: [Int] = []
    // Dijkstra scratch; between augmentations dist = ∞, pred = -1, done = false everywhere.
    var dist: [Double] = [], pred: [Int] = [], done: [Bool] = []
    var touched: [Int] = [], finalized: [Int] = []
    var heap = MinHeap()

    init() {}

    init(_ matrix: SparseCostMatrix) {
        rowStart = matrix.rowStart; entryColumn = matrix.columns; entryCost = matrix.costs
        load(rows: matrix.rowCount, columns: matrix.columnCount)
    }

    /// Prepares duals and scratch for the CSR currently in `rowStart/entryColumn/entryCost`.
    mutating func load(rows n: Int, columns m: Int) {
        rows = n; cols = m
        func fit<T>(_ a: inout [T], _ count: Int, _ value: T) {
            if a.count < count { a.append(contentsOf: repeatElement(value, count: count - a.count)) }
        }
        fit(&u, n, 0); fit(&columnOfRow, n, -1)
        fit(&v, m, 0); fit(&rowOfColumn, m, -1); fit(&dist, m, .infinity); fit(&pred, m, -1); fit(&done, m, false)
        for r in 0..<n {
            var lo = Double.infinity
            for k in rowStart[r]..<rowStart[r + 1] { lo = min(lo, entryCost[k]) }
            u[r] = lo.isFinite ? lo : 0
            columnOfRow[r] = -1
        }
        for c in 0..<m { v[c] = 0; rowOfColumn[c] = -1 }
    }

    /// Relaxes the edges of `row`, reached at distance `base`.
    @inline(__always)
    private mutating func relax(row: Int, base: Double) {
        let ur = u[row]
        for k in rowStart[row]..<rowStart[row + 1] {
            let c = entryColumn[k]
            if done[c] { continue }
            let d = base + entryCost[k] - ur - v[c]
            if d < dist[c] {
                if dist[c] == .infinity { touched.append(c) }
                dist[c] = d; pred[c] = row
                heap.push(d, c)
            }
        }
    }

    /// Matches the free row `source`, re-matching others along a shortest path.
    mutating func augment(from source: Int) -> Bool {
        relax(row: source, base: 0)
        var sink = -1, delta = 0.0
        while let (d, c) = heap.pop() {
            if done[c] || d > dist[c] { continue }
            done[c] = true; finalized.append(c)
            if rowOfColumn[c] < 0 { sink = c; delta = d; break }
            relax(row: rowOfColumn[c], base: d)
        }
        if sink >= 0 {
            // Dual update keeps reduced costs ≥ 0 and makes the tree edges tight.
            u[source] += delta
            for c in finalized where c != sink {
                let r = rowOfColumn[c]
                u[r] += delta - dist[c]
                v[c] -= delta - dist[c]
            }
            var c = sink
            while true {
                let r = pred[c]
                let previous = columnOfRow[r]
                columnOfRow[r] = c; rowOfColumn[c] = r
                if r == source { break }
                c = previous
            }
        }
        for c in touched { dist[c] = .infinity; pred[c] = -1; done[c] = false }
        touched.removeAll(keepingCapacity: true); finalized.removeAll(keepingCapacity: true)
        heap.removeAll()
        return sink >= 0
    }

    /// Exact partial assignment of a small problem given as local edges (rows 0..<k,
    /// columns 0..<l, every row and column touched by an edge), on Jaqaman's augmented
    /// matrix built directly into the reusable CSR. Returns with `columnOfRow[0..<k]`
    /// holding a column < l or a value ≥ l (unassigned).
    mutating func solveAugmented(rows k: Int, columns l: Int, edgeRows: [Int], edgeColumns: [Int], edgeCosts: [Double],
                                 death: Double, birth: Double) {
        let n = k + l
        // Row r < k: its edges + death at column l+r. Row k+c: birth at c + zero-cost (l+r) for edges (r, c).
        rowStart.removeAll(keepingCapacity: true)
        rowStart.append(contentsOf: repeatElement(0, count: n + 1))
        for e in 0..<edgeRows.count { rowStart[edgeRows[e] + 1] += 1; rowStart[k + edgeColumns[e] + 1] += 1 }
        for r in 0..<n { rowStart[r + 1] += rowStart[r] + 1 }
        let total = rowStart[n]
        if entryColumn.count < total {
            entryColumn.append(contentsOf: repeatElement(0, count: total - entryColumn.count))
            entryCost.append(contentsOf: repeatElement(0, count: total - entryCost.count))
        }
        // Fill each row's fixed entry first, then its edges; `u` serves as the per-row
        // write cursor here (as a Double) because `load` overwrites it right after.
        if u.count < n { u.append(contentsOf: repeatElement(0, count: n - u.count)) }
        for r in 0..<k { entryColumn[rowStart[r]] = l + r; entryCost[rowStart[r]] = death; u[r] = Double(rowStart[r] + 1) }
        for c in 0..<l { entryColumn[rowStart[k + c]] = c; entryCost[rowStart[k + c]] = birth; u[k + c] = Double(rowStart[k + c] + 1) }
        for e in 0..<edgeRows.count {
            let r = edgeRows[e], c = edgeColumns[e]
            var at = Int(u[r]); entryColumn[at] = c; entryCost[at] = edgeCosts[e]; u[r] += 1
            at = Int(u[k + c]); entryColumn[at] = l + r; entryCost[at] = 0; u[k + c] += 1
        }
        load(rows: n, columns: n)
        for r in 0..<n { _ = augment(from: r) }  // always succeeds: the augmented matrix has a perfect matching
    }
}

/// A binary min-heap of (key, value) pairs, with stale entries allowed.
struct MinHeap {
    private var keys: [Double] = [], values: [Int] = []
    var isEmpty: Bool { keys.isEmpty }
    mutating func removeAll() { keys.removeAll(keepingCapacity: true); values.removeAll(keepingCapacity: true) }
    mutating func push(_ key: Double, _ value: Int) {
        keys.append(key); values.append(value)
        var i = keys.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            if keys[p] <= keys[i] { break }
            keys.swapAt(p, i); values.swapAt(p, i); i = p
        }
    }
    mutating func pop() -> (Double, Int)? {
        guard let top = keys.first, let value = values.first else { return nil }
        let lastKey = keys.removeLast(), lastValue = values.removeLast()
        if !keys.isEmpty {
            keys[0] = lastKey; values[0] = lastValue
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var s = i
                if l < keys.count && keys[l] < keys[s] { s = l }
                if r < keys.count && keys[r] < keys[s] { s = r }
                if s == i { break }
                keys.swapAt(s, i); values.swapAt(s, i); i = s
            }
        }
        return (top, value)
    }
}
