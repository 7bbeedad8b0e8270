import Core
import Dynamics

/// Samples a Markov chain of `steps` states from `t` (row-stochastic), seeded.
func sampleChain(_ t: [[Double]], steps: Int, start: Int = 0, seed: UInt64) -> [Int] {
    var rng = SeededGenerator(seed: seed)
    var s = start
    var out = [Int]()
    out.reserveCapacity(steps)
    for _ in 0..<steps {
        out.append(s)
        let u = rng.uniform()
        var acc = 0.0, next = t[s].count - 1
        for (j, p) in t[s].enumerated() {
            acc += p
            if u < acc { next = j; break }
        }
        s = next
    }
    return out
}

/// Birth–death chain: i → i+1 with p, i → i−1 with q, the rest stays.
func birthDeath(states n: Int, up p: Double, down q: Double) -> [[Double]] {
    (0..<n).map { i in
        var row = [Double](repeating: 0, count: n)
        if i < n - 1 { row[i + 1] = p }
        if i > 0 { row[i - 1] = q }
        row[i] = 1 - row.reduce(0, +)
        return row
    }
}

/// A reversible 3-state matrix with slow exchange between 0 and {1, 2}.
let threeState: [[Double]] = [
    [0.90, 0.06, 0.04],
    [0.10, 0.80, 0.10],
    [0.10, 0.15, 0.75],
]
