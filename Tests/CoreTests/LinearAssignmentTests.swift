import XCTest
import Core

final class LinearAssignmentTests: XCTestCase {

    /// Exhaustive minimum over all injective maps rows → columns (rows ≤ columns).
    private func bruteForceFull(_ c: [Double], rows: Int, columns: Int) -> Double {
        var best = Double.infinity
        var used = [Bool](repeating: false, count: columns)
        func go(_ r: Int, _ acc: Double) {
            if r == rows { best = min(best, acc); return }
            for j in 0..<columns where !used[j] {
                used[j] = true; go(r + 1, acc + c[r * columns + j]); used[j] = false
            }
        }
        go(0, 0)
        return best
    }

    func testDenseMatchesBruteForce() throws {
        var rng = SeededGenerator(seed: 7)
        for trial in 0..<200 {
            let rows = 1 + Int(rng.next() % 6), columns = 1 + Int(rng.next() % 6)
            let c = (0..<(rows * columns)).map { _ in (rng.uniform() * 10).rounded() - (trial % 2 == 0 ? 0 : 5) }
            let a = try LinearAssignment.solve(dense: c, rows: rows, columns: columns)
            let truth = rows <= columns ? bruteForceFull(c, rows: rows, columns: columns)
                : bruteForceFull((0..<(rows * columns)).map { c[($0 % rows) * columns + $0 / rows] }, rows: columns, columns: rows)
            XCTAssertEqual(a.cost, truth, accuracy: 1e-9, "trial \(trial) \(rows)×\(columns)")
            // One-to-one and consistent.
            let assigned = a.columnOfRow.filter { $0 >= 0 }
            XCTAssertEqual(Set(assigned).count, assigned.count)
            XCTAssertEqual(assigned.count, min(rows, columns))
            for (r, col) in a.columnOfRow.enumerated() where col >= 0 { XCTAssertEqual(a.rowOfColumn[col], r) }
        }
    }

    /// Exhaustive minimum over partial matchings with birth/death costs.
    private func bruteForcePartial(_ m: [[Double?]], columns: Int, death: Double, birth: Double) -> Double {
        let rows = m.count
        var best = Double.infinity
        var used = [Bool](repeating: false, count: columns)
        func go(_ r: Int, _ acc: Double, _ matched: Int) {
            if r == rows { best = min(best, acc + Double(columns - matched) * birth); return }
            go(r + 1, acc + death, matched)
            for j in 0..<columns where !used[j] {
                if let w = m[r][j] { used[j] = true; go(r + 1, acc + w, matched + 1); used[j] = false }
            }
        }
        go(0, 0, 0)
        return best
    }

    func testSparsePartialMatchesBruteForce() throws {
        var rng = SeededGenerator(seed: 11)
        for trial in 0..<300 {
            let rows = Int(rng.next() % 6), columns = Int(rng.next() % 6)
            var dense = [[Double?]](repeating: [Double?](repeating: nil, count: columns), count: rows)
            var matrix = SparseCostMatrix(columnCount: columns)
            for r in 0..<rows {
                var entries: [(Int, Double)] = []
                for c in 0..<columns where rng.uniform() < 0.5 {
                    let w = (rng.uniform() * 8).rounded()
                    dense[r][c] = w; entries.append((c, w))
                }
                matrix.appendRow(entries)
            }
            let death = 1 + (rng.uniform() * 4).rounded(), birth = (rng.uniform() * 4).rounded()
            let a = try LinearAssignment.solvePartial(matrix, rowUnassignedCost: [Double](repeating: death, count: rows),
                                                      columnUnassignedCost: [Double](repeating: birth, count: columns))
            XCTAssertEqual(a.cost, bruteForcePartial(dense, columns: columns, death: death, birth: birth), accuracy: 1e-9, "trial \(trial)")
            for (r, c) in a.columnOfRow.enumerated() where c >= 0 { XCTAssertNotNil(dense[r][c], "used a forbidden entry") }
        }
    }

    func testComponentSolverAgreesWithWholeProblem() throws {
        var rng = SeededGenerator(seed: 3)
        for _ in 0..<50 {
            let rows = 30, columns = 30
            var edges: [CandidateEdge] = []
            var matrix = SparseCostMatrix(columnCount: columns)
            for r in 0..<rows {
                var entries: [(Int, Double)] = []
                for c in 0..<columns where rng.uniform() < 0.06 {
                    let w = rng.uniform() * 3
                    edges.append(CandidateEdge(row: r, column: c, cost: w)); entries.append((c, w))
                }
                matrix.appendRow(entries)
            }
            let whole = try LinearAssignment.solvePartial(matrix, rowUnassignedCost: [Double](repeating: 1, count: rows),
                                                          columnUnassignedCost: [Double](repeating: 1, count: columns))
            let split = try LinearAssignment.solvePartial(rows: rows, columns: columns, edges: edges,
                                                      rowUnassignedCost: 1, columnUnassignedCost: 1)
            var cost = 0.0
            for (r, c) in split.enumerated() {
                if c < 0 { cost += 1 } else { cost += edges.first { $0.row == r && $0.column == c }!.cost }
            }
            cost += Double(columns - split.filter { $0 >= 0 }.count)
            XCTAssertEqual(cost, whole.cost, accuracy: 1e-9)
        }
    }

    func testMatchPointsWithinDistance() {
        let a: [(x: Double, y: Double)] = [(0, 0), (10, 0), (20, 0)]
        let b: [(x: Double, y: Double)] = [(10.5, 0.2), (0.3, -0.1), (50, 50)]
        let pairs = LinearAssignment.matchPoints(a, b, maxDistance: 2).sorted { $0.0 < $1.0 }
        XCTAssertEqual(pairs.map(\.0), [0, 1]); XCTAssertEqual(pairs.map(\.1), [1, 0])
    }

    func testBadInputsThrow() {
        XCTAssertThrowsError(try LinearAssignment.solve(dense: [1, 2, 3], rows: 2, columns: 2))
        XCTAssertThrowsError(try LinearAssignment.solve(dense: [1, .nan, 3, 4], rows: 2, columns: 2))
        XCTAssertThrowsError(try SparseCostMatrix(rowCount: 1, columnCount: 2, rowStart: [0, 1], columns: [5], costs: [1]))
        // Two rows that both only allow column 0: no full assignment.
        XCTAssertThrowsError(try LinearAssignment.solvePartial(rows: 1, columns: 1, edges: [CandidateEdge(row: 0, column: 1, cost: 1)],
                                                               rowUnassignedCost: 1, columnUnassignedCost: 1))
        XCTAssertThrowsError(try LinearAssignment.solvePartial(rows: 1, columns: 1, edges: [CandidateEdge(row: 0, column: 0, cost: .infinity)],
                                                               rowUnassignedCost: 1, columnUnassignedCost: 1))
        let m = try! SparseCostMatrix(rowCount: 2, columnCount: 2, rowStart: [0, 1, 2], columns: [0, 0], costs: [1, 1])
        XCTAssertThrowsError(try LinearAssignment.solveFull(m)) { error in
            XCTAssertEqual(error as? LinearAssignmentError, .infeasible(row: 1))
        }
    }
}

final class SciPyLAPTests: XCTestCase {
    /// Optimal totals of rectangular problems match scipy's linear_sum_assignment.
    func testMatchesSciPyOptimum() throws {
        for c in scipyLAPCases {
            let a = try LinearAssignment.solve(dense: c.costs, rows: c.rows, columns: c.columns)
            XCTAssertEqual(a.cost, c.optimalCost, "\(c.rows)×\(c.columns)")
            XCTAssertEqual(a.columnOfRow.filter { $0 >= 0 }.count, min(c.rows, c.columns))
        }
    }
}
