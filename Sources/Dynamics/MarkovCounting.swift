// Transition counting at lag τ: which pairs of observations count as transitions.

/// How transition pairs are taken along a trajectory.
public enum MarkovCountingMode: String, Sendable, Codable {
    /// Every pair (t, t+τ): overlapping windows, the usual MSM choice (more counts,
    /// correlated).
    case sliding
    /// Pairs (t0, t0+τ), (t0+τ, t0+2τ), …: statistically independent counts.
    case sample
}

/// The rules for turning state trajectories into a count matrix.
public struct MarkovCountingOptions: Sendable, Equatable {
    /// Lag time τ in frames (≥ 1).
    public var lag: Int
    /// Sliding or sample windows.
    public var mode: MarkovCountingMode
    /// When false (default) a pair is counted only if every frame between its ends
    /// was observed, so a missing frame never hides a transition. When true, any two
    /// observations exactly τ frames apart count, across gaps.
    public var bridgeGaps: Bool

    public init(lag: Int, mode: MarkovCountingMode = .sliding, bridgeGaps: Bool = false) {
        self.lag = lag
        self.mode = mode
        self.bridgeGaps = bridgeGaps
    }
}

/// A transition count matrix over all declared states at one lag.
public struct TransitionCounts: Sendable {
    /// How the counts were taken.
    public let options: MarkovCountingOptions
    /// `counts[i, j]`: (weighted) number of i → j transitions at lag τ.
    public let matrix: MarkovMatrix
    /// Number of counted pairs, ignoring weights.
    public let pairCount: Int
    /// Number of tracks that contributed at least one pair.
    public let contributingTracks: Int

    /// Number of declared states.
    public var stateCount: Int { matrix.size }

    /// Counts transitions in `trajectories`. `stateCount` defaults to the largest
    /// state seen + 1; a state ≥ `stateCount` is an error. Each track's pairs are
    /// multiplied by its weight.
    public init(_ trajectories: [StateTrajectory], stateCount: Int? = nil,
                options: MarkovCountingOptions) throws {
        let perTrack = try TransitionCounts.perTrack(trajectories, stateCount: stateCount, options: options)
        var m = MarkovMatrix(size: perTrack.stateCount)
        var pairs = 0, tracks = 0
        for (t, c) in perTrack.counts.enumerated() where c.pairs > 0 {
            let w = trajectories[t].weight
            for (k, v) in c.entries { m.values[k] += w * v }
            pairs += c.pairs
            tracks += 1
        }
        self.options = options
        matrix = m
        pairCount = pairs
        contributingTracks = tracks
    }

    /// Wraps a count matrix obtained elsewhere (entries finite and ≥ 0); `pairCount`
    /// is taken as the rounded total.
    public init(matrix: MarkovMatrix, options: MarkovCountingOptions) throws {
        guard options.lag >= 1 else { throw MarkovError.invalidLag(options.lag) }
        guard matrix.size >= 1, matrix.values.allSatisfy({ $0.isFinite && $0 >= 0 }) else {
            throw MarkovError.invalidArgument("a count matrix needs ≥ 1 state and finite, non-negative entries")
        }
        self.options = options
        self.matrix = matrix
        pairCount = Int(matrix.values.reduce(0, +).rounded())
        contributingTracks = 0
    }

    /// Sparse unweighted counts of one track: (flat index, count) entries.
    struct TrackCounts: Sendable {
        var entries: [(Int, Double)]
        var pairs: Int
    }

    /// Unweighted counts per track (used directly by the bootstrap over tracks).
    static func perTrack(_ trajectories: [StateTrajectory], stateCount: Int?,
                         options: MarkovCountingOptions) throws -> (stateCount: Int, counts: [TrackCounts]) {
        guard options.lag >= 1 else { throw MarkovError.invalidLag(options.lag) }
        let maxState = trajectories.map { $0.states.max() ?? -1 }.max() ?? -1
        let n = stateCount ?? (maxState + 1)
        guard n >= 1 else { throw MarkovError.invalidArgument("no states: every trajectory is empty") }
        if maxState >= n { throw MarkovError.stateOutOfRange(state: maxState, stateCount: n) }
        var dense = [Double](repeating: 0, count: n * n)
        let counts = trajectories.map { track -> TrackCounts in
            let pairs = countPairs(track, n: n, options: options, into: &dense)
            var entries: [(Int, Double)] = []
            for k in dense.indices where dense[k] != 0 {
                entries.append((k, dense[k]))
                dense[k] = 0
            }
            return TrackCounts(entries: entries, pairs: pairs)
        }
        return (n, counts)
    }

    /// Adds one track's pairs to `c` (flat n×n); returns the number of pairs.
    private static func countPairs(_ track: StateTrajectory, n: Int, options: MarkovCountingOptions,
                                   into c: inout [Double]) -> Int {
        let tau = options.lag, step = options.mode == .sliding ? 1 : tau
        let frames = track.frames, states = track.states
        guard frames.count > 1 else { return 0 }
        var pairs = 0
        if options.bridgeGaps {
            // Pair each observation with the one exactly τ frames later, if observed
            // (a moving pointer: O(n) however long the gaps). Sample mode keeps the
            // grid first, first+τ, … of the track's first frame.
            let first = frames[0]
            var b = 1
            for a in 0..<(frames.count - 1) where step == 1 || (frames[a] - first) % tau == 0 {
                let target = frames[a] + tau
                b = max(b, a + 1)
                while b < frames.count, frames[b] < target { b += 1 }
                if b == frames.count { break }
                if frames[b] == target { c[states[a] * n + states[b]] += 1; pairs += 1 }
            }
            return pairs
        }
        // Gap-free runs; frames increase strictly, so a run is where frames step by 1.
        // Hot loop (one pass per frame of 10⁶-frame trajectories): buffer pointers and &+ keep
        // bounds and overflow checks out of it. Safe: states are in 0..<n (checked by
        // `perTrack`), frames strictly increase, and every index stays below frames.count.
        frames.withUnsafeBufferPointer { f in
            states.withUnsafeBufferPointer { s in
                c.withUnsafeMutableBufferPointer { cp in
                    var runStart = 0
                    for end in 1...f.count where end == f.count || f[end] != f[end - 1] &+ 1 {
                        var t = runStart
                        let last = end - tau   // pairs (t, t + τ) with t < last
                        while t < last {
                            cp[s[t] &* n &+ s[t &+ tau]] += 1
                            pairs &+= 1
                            t &+= step
                        }
                        runStart = end
                    }
                }
            }
        }
        return pairs
    }
}

/// Strongly connected sets of a count matrix (edge i → j when counts[i, j] > 0).
public struct MarkovConnectivity: Sendable, Equatable {
    /// All strongly connected sets (state ids, ascending within a set), largest first;
    /// ties go to the set with more counts, then to the smaller first id.
    public let components: [[Int]]

    /// The largest strongly connected set: the active set of an estimate.
    public var largest: [Int] { components.first ?? [] }
    /// States outside the largest set, ascending.
    public var excluded: [Int] { components.dropFirst().flatMap { $0 }.sorted() }
    /// True when all states form one strongly connected set.
    public var isConnected: Bool { components.count <= 1 }

    /// Tarjan's algorithm on the count graph.
    public init(counts: MarkovMatrix) {
        let n = counts.size
        var index = [Int](repeating: -1, count: n), low = [Int](repeating: 0, count: n)
        var onStack = [Bool](repeating: false, count: n), stack: [Int] = []
        var next = 0
        var found: [[Int]] = []

        func visit(_ v: Int) {
            index[v] = next; low[v] = next; next += 1
            stack.append(v); onStack[v] = true
            for w in 0..<n where counts[v, w] > 0 {
                if index[w] < 0 {
                    visit(w)
                    low[v] = min(low[v], low[w])
                } else if onStack[w] {
                    low[v] = min(low[v], index[w])
                }
            }
            if low[v] == index[v] {
                var set: [Int] = []
                while let w = stack.popLast() {
                    onStack[w] = false
                    set.append(w)
                    if w == v { break }
                }
                found.append(set.sorted())
            }
        }
        for v in 0..<n where index[v] < 0 { visit(v) }

        func total(_ set: [Int]) -> Double { set.reduce(0) { s, i in s + set.reduce(0) { $0 + counts[i, $1] } } }
        components = found.map { ($0, total($0)) }.sorted { a, b in
            if a.0.count != b.0.count { return a.0.count > b.0.count }
            if a.1 != b.1 { return a.1 > b.1 }
            return a.0[0] < b.0[0]
        }.map { $0.0 }
    }
}
