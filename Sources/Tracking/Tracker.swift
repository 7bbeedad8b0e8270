import Core
import Dispatch

/// Options of `Tracker.track`. Distances in pixels, costs in pixels².
public struct TrackingOptions: Sendable {
    /// Largest displacement linked between consecutive frames (after drift correction).
    public var maxDistance: Double
    /// Largest number of consecutive missed frames a track may bridge (0 = no gap closing).
    public var maxGap: Int = 0
    /// Largest displacement bridged by gap closing; `nil` = `maxDistance`.
    public var gapMaxDistance: Double? = nil
    /// Cost of ending a track (death) / starting one (birth); `nil` = `maxDistance²/2`,
    /// so any pair within `maxDistance` is worth linking unless a cheaper one competes.
    public var deathCost: Double? = nil
    public var birthCost: Double? = nil
    /// Link–estimate–subtract rounds of drift estimation (0 = assume no drift).
    public var driftIterations: Int = 0
    /// Search distance of the first, uncorrected linking pass that seeds the drift
    /// estimate; `nil` = `maxDistance`. Per-frame drift must stay below it (and below
    /// half the lattice spacing on a lattice, or the drift is aliased).
    public var driftSearchDistance: Double? = nil
    /// A link longer than this (px, drift removed) splits its track for the drift estimate: the
    /// estimate pins each frame to the mean positions of the tracks, which holds for objects that
    /// stay put (atoms) but not for a defect that hopped to a new site — with a handful of hopping
    /// defects it took hops for drift (−67 px over 94 frames of a movie with 23 px). `nil`: no split.
    public var driftSegmentBreak: Double? = nil
    /// Check the drift on held-out tracks before using it (`DriftGauge`): a few sparse defects
    /// cannot gauge their own drift. Without the check the estimate is always used.
    public var driftCheck = false

    public init(maxDistance: Double, maxGap: Int = 0, gapMaxDistance: Double? = nil,
                driftIterations: Int = 0, driftSearchDistance: Double? = nil,
                deathCost: Double? = nil, birthCost: Double? = nil) {
        self.maxDistance = maxDistance; self.maxGap = maxGap; self.gapMaxDistance = gapMaxDistance
        self.driftIterations = driftIterations; self.driftSearchDistance = driftSearchDistance
        self.deathCost = deathCost; self.birthCost = birthCost
    }

    func validate() throws {
        guard maxDistance.isFinite, maxDistance > 0 else { throw TrackingError.invalidOption("maxDistance must be positive and finite, got \(maxDistance)") }
        guard maxGap >= 0 else { throw TrackingError.invalidOption("maxGap must be ≥ 0, got \(maxGap)") }
        if let g = gapMaxDistance, !(g.isFinite && g > 0) { throw TrackingError.invalidOption("gapMaxDistance must be positive, got \(g)") }
        if let g = driftSearchDistance, !(g.isFinite && g > 0) { throw TrackingError.invalidOption("driftSearchDistance must be positive, got \(g)") }
        if let g = driftSegmentBreak, !(g.isFinite && g > 0) { throw TrackingError.invalidOption("driftSegmentBreak must be positive, got \(g)") }
        for (name, c) in [("deathCost", deathCost), ("birthCost", birthCost)] {
            if let c, !(c.isFinite && c >= 0) { throw TrackingError.invalidOption("\(name) must be finite and ≥ 0, got \(c)") }
        }
        guard driftIterations >= 0 else { throw TrackingError.invalidOption("driftIterations must be ≥ 0") }
    }
}

/// Cumulative drift of one frame relative to the first frame (pixels).
public struct DriftStep: Sendable, Equatable {
    public var frame: Int
    public var dx: Double
    public var dy: Double

    public init(frame: Int, dx: Double, dy: Double) { self.frame = frame; self.dx = dx; self.dy = dy }
}

/// Tracks, the drift used to link them, and the track of every detection.
public struct TrackingResult: Sendable {
    public var tracks: [Track]
    /// One entry per frame from the first to the last frame holding detections.
    public var drift: [DriftStep]
    /// `trackOfDetection[i]` is the id of the track holding input detection `i`.
    public var trackOfDetection: [Int]
    /// Whether the detections could gauge their drift (nil: not checked, `driftCheck` off).
    public var driftGauge: DriftGauge? = nil
}

/// Whether detections can gauge their own drift: each half of the tracks (alternate tracks of a
/// first, drift-free linking) estimates the drift; it is removed from the other half's one-frame
/// links that are not hops, and their mean squared step compared with and without it. A drift
/// that does not lower the held-out steps by more than twice the standard error of that gain is
/// not told apart from the error of its own estimate (a few sparse,
/// hopping defects: one movie of the calibration study got 57 px of false drift from 238
/// detections in 192 frames), and none is used. A cross-validation of the drift model against the
/// no-drift model (Stone, J. R. Stat. Soc. B 36, 111 (1974)).
public struct DriftGauge: Sendable, Equatable {
    /// Whether the drift estimated from the detections is used.
    public var used: Bool
    /// Held-out one-frame links, and their mean squared step (px²) with the other half's drift removed and as they are.
    public var links: Int
    public var meanSquareWithDrift: Double, meanSquareWithout: Double
    /// Standard error (px²) of the gain meanSquareWithout − meanSquareWithDrift, from the links' paired differences.
    public var gainError: Double
    /// Fewer held-out links than this gauge nothing.
    public static let minimumLinks = 20

    public init(links: Int, meanSquareWithDrift: Double, meanSquareWithout: Double, gainError: Double) {
        self.links = links; self.meanSquareWithDrift = meanSquareWithDrift; self.meanSquareWithout = meanSquareWithout
        self.gainError = gainError
        used = links >= Self.minimumLinks && meanSquareWithout - meanSquareWithDrift > 2 * gainError
    }

    /// One line for the user and the metadata.
    public var summary: String {
        let check = String(format: "held-out mean squared step %.4g px² with the drift, %.4g without (gain %.3g ± %.2g), over %ld links",
                           meanSquareWithDrift, meanSquareWithout, meanSquareWithout - meanSquareWithDrift, gainError, links)
        if used { return "drift estimated from the detections (\(check))" }
        if links < Self.minimumLinks { return "no drift correction: \(links) held-out one-frame links (< \(Self.minimumLinks)) cannot gauge a drift" }
        return "no drift correction: the detections cannot gauge it (\(check))"
    }
}

/// Drift-corrected frame-to-frame linking by linear assignment, then gap closing.
public enum Tracker {

    /// Links detections into tracks. Each consecutive frame pair is solved as an
    /// optimal one-to-one assignment (squared-distance cost, birth/death costs),
    /// split into independent components with a cell grid; pairs run in parallel.
    /// With `maxGap > 0` segment ends and starts up to `maxGap` missed frames apart
    /// are joined by a second optimal assignment (Jaqaman et al. 2008).
    public static func track(_ detections: [Detection], options: TrackingOptions) throws -> TrackingResult {
        try link(detections, options: options, knownDrift: nil)
    }

    /// Links detections whose drift is already known — e.g. measured on the lattice around
    /// sparse defects, which are too few to estimate it from themselves. `drift` is the
    /// cumulative drift per frame (a frame it lacks is taken as undrifted); `driftIterations`
    /// is not used. Positions stay as given; `xCorrected`/`yCorrected` have the drift removed.
    public static func track(_ detections: [Detection], options: TrackingOptions, drift: [DriftStep]) throws -> TrackingResult {
        try link(detections, options: options, knownDrift: drift)
    }

    static func link(_ detections: [Detection], options: TrackingOptions, knownDrift: [DriftStep]?) throws -> TrackingResult {
        try options.validate()
        for (i, d) in detections.enumerated() {
            guard d.x.isFinite, d.y.isFinite else { throw TrackingError.invalidDetection(index: i, reason: "non-finite position (\(d.x), \(d.y))") }
            guard d.frame >= 0 else { throw TrackingError.invalidDetection(index: i, reason: "negative frame \(d.frame)") }
        }
        guard let first = detections.map(\.frame).min(), let last = detections.map(\.frame).max() else {
            return TrackingResult(tracks: [], drift: [], trackOfDetection: [])
        }
        guard last - first < 10_000_000 else { throw TrackingError.invalidOption("frames span \(first)…\(last); more than 10⁷ frames") }
        let frames = FrameIndex(detections, first: first, last: last)
        let drift: [(dx: Double, dy: Double)]
        var next: [Int], gauge: DriftGauge?
        if let knownDrift {
            drift = frames.localDrift(knownDrift)
            next = linkConsecutive(frames, drift: drift, options: options)
        } else {
            (drift, next, gauge) = estimateDriftAndLink(frames, options: options)
        }
        if options.maxGap > 0 { closeGaps(frames, drift: drift, next: &next, options: options) }
        var result = assemble(detections, frames: frames, drift: drift, next: next)
        result.driftGauge = gauge
        return result
    }

    /// Consecutive-frame links and the drift estimated from them (`driftIterations` rounds).
    static func estimateDriftAndLink(_ frames: FrameIndex, options: TrackingOptions) -> ([(dx: Double, dy: Double)], [Int], DriftGauge?) {
        var drift = [(dx: Double, dy: Double)](repeating: (0, 0), count: frames.count)
        var seeding = options
        if options.driftIterations > 0, let wide = options.driftSearchDistance {
            seeding.maxDistance = wide; seeding.deathCost = nil; seeding.birthCost = nil
        }
        var next = linkConsecutive(frames, drift: drift, options: seeding), gauge: DriftGauge?
        if options.driftIterations > 0 && options.driftCheck {
            gauge = gaugeDrift(frames, next: next, segmentBreak: options.driftSegmentBreak)
            if gauge?.used == false { return (drift, linkConsecutive(frames, drift: drift, options: options), gauge) }
        }
        for _ in 0..<options.driftIterations {
            drift = refineDrift(frames, next: next, segmentBreak: options.driftSegmentBreak)
            next = linkConsecutive(frames, drift: drift, options: options)
        }
        return (drift, next, gauge)
    }

    /// `DriftGauge` of the links `next`: alternate chains are the two halves; each half's drift is
    /// `refineDrift` on its links alone, checked on the other half's links shorter than `segmentBreak`.
    static func gaugeDrift(_ frames: FrameIndex, next: [Int], segmentBreak: Double?) -> DriftGauge {
        let det = frames.detections
        var hasPrevious = [Bool](repeating: false, count: det.count)
        for j in next where j >= 0 { hasPrevious[j] = true }
        var chain = [Int](repeating: 0, count: det.count), chains = 0
        for head in det.indices where !hasPrevious[head] {
            var i = head
            while i >= 0 { chain[i] = chains; i = next[i] }
            chains += 1
        }
        var with = 0.0, without = 0.0, gain2 = 0.0, links = 0
        for half in 0..<2 {
            let drift = refineDrift(frames, next: next.indices.map { chain[$0] % 2 == half ? next[$0] : -1 }, segmentBreak: segmentBreak)
            for i in det.indices where chain[i] % 2 != half {
                let j = next[i]
                guard j >= 0, det[j].frame == det[i].frame + 1 else { continue }
                let dx = det[j].x - det[i].x, dy = det[j].y - det[i].y, t = frames.local(det[i].frame)
                if let b = segmentBreak, dx * dx + dy * dy > b * b { continue }   // a hop shows no drift
                let ex = dx - (drift[t + 1].dx - drift[t].dx), ey = dy - (drift[t + 1].dy - drift[t].dy)
                let a = ex * ex + ey * ey, b = dx * dx + dy * dy
                with += a; without += b; gain2 += (b - a) * (b - a); links += 1
            }
        }
        let n = Double(max(links, 1)), gain = (without - with) / n
        let spread = max(gain2 / n - gain * gain, 0) * n / max(n - 1, 1)
        return DriftGauge(links: links, meanSquareWithDrift: with / n, meanSquareWithout: without / n, gainError: (spread / n).squareRoot())
    }

    // MARK: - Frame-pair linking

    /// `next[i]` = detection linked after detection `i` (global indices), or -1.
    static func linkConsecutive(_ frames: FrameIndex, drift: [(dx: Double, dy: Double)],
                                options: TrackingOptions) -> [Int] {
        let r2 = options.maxDistance * options.maxDistance
        let death = options.deathCost ?? r2 / 2, birth = options.birthCost ?? r2 / 2
        nonisolated(unsafe) let pairLinks = UnsafeMutableBufferPointer<[(Int, Int)]>.allocate(capacity: max(frames.count - 1, 0))
        pairLinks.initialize(repeating: [])
        defer { pairLinks.deinitialize(); pairLinks.deallocate() }
        parallelFor(max(frames.count - 1, 0)) { t in
            let a = frames.members(t), b = frames.members(t + 1)
            pairLinks[t] = linkPair(frames, a: a, driftA: drift[t], b: b, driftB: drift[t + 1],
                                    maxDistance: options.maxDistance, death: death, birth: birth)
        }
        var next = [Int](repeating: -1, count: frames.detections.count)
        for links in pairLinks { for (i, j) in links { next[i] = j } }
        return next
    }

    /// Optimal links between two sets of detections (global indices).
    static func linkPair(_ frames: FrameIndex, a: ArraySlice<Int>, driftA: (dx: Double, dy: Double),
                         b: ArraySlice<Int>, driftB: (dx: Double, dy: Double),
                         maxDistance: Double, death: Double, birth: Double) -> [(Int, Int)] {
        guard !a.isEmpty, !b.isEmpty else { return [] }
        let det = frames.detections
        let bx = b.map { det[$0].x - driftB.dx }, by = b.map { det[$0].y - driftB.dy }
        let grid = CellGrid(xs: bx, ys: by, cellSize: maxDistance)
        let r2 = maxDistance * maxDistance
        var edges: [CandidateEdge] = []
        edges.reserveCapacity(a.count * 2)
        for (row, i) in a.enumerated() {
            let x = det[i].x - driftA.dx, y = det[i].y - driftA.dy
            grid.forEachNeighbour(x: x, y: y) { col in
                let dx = bx[col] - x, dy = by[col] - y
                let d2 = dx * dx + dy * dy
                if d2 <= r2 { edges.append(CandidateEdge(row: row, column: col, cost: d2)) }
            }
        }
        let match = LinearAssignment.solveComponents(rows: a.count, columns: b.count, edges: edges,
                                                  rowUnassignedCost: death, columnUnassignedCost: birth)
        var links: [(Int, Int)] = []
        links.reserveCapacity(a.count)
        for (row, col) in match.enumerated() where col >= 0 { links.append((a[a.startIndex + row], b[b.startIndex + col])) }
        return links
    }

    // MARK: - Drift

    /// Drift from links: seeded by the median displacement of each consecutive-frame
    /// link set, then refined against the tracks themselves — each frame's drift is the
    /// median offset of its points from their track's mean corrected position — so
    /// per-step errors do not accumulate along the movie. Medians resist moving defects.
    static func refineDrift(_ frames: FrameIndex, next: [Int], segmentBreak: Double? = nil) -> [(dx: Double, dy: Double)] {
        let det = frames.detections
        var drift = [(dx: Double, dy: Double)](repeating: (0, 0), count: frames.count)
        for t in 0..<max(frames.count - 1, 0) {
            var dxs: [Double] = [], dys: [Double] = []
            for i in frames.members(t) where next[i] >= 0 && det[next[i]].frame == det[i].frame + 1 {
                dxs.append(det[next[i]].x - det[i].x); dys.append(det[next[i]].y - det[i].y)
            }
            let step: (dx: Double, dy: Double) = dxs.isEmpty ? (0, 0) : (Statistics.median(dxs), Statistics.median(dys))
            drift[t + 1] = (drift[t].dx + step.dx, drift[t].dy + step.dy)
        }
        // Track label of every detection (chains of `next`, cut at links longer than `segmentBreak`).
        var hasPrevious = [Bool](repeating: false, count: det.count)
        for j in next where j >= 0 { hasPrevious[j] = true }
        func hop(_ i: Int, _ j: Int) -> Bool {
            guard let b = segmentBreak else { return false }
            let a = drift[frames.local(det[i].frame)], c = drift[frames.local(det[j].frame)]
            let dx = det[j].x - c.dx - det[i].x + a.dx, dy = det[j].y - c.dy - det[i].y + a.dy
            return dx * dx + dy * dy > b * b
        }
        var trackOf = [Int](repeating: -1, count: det.count), trackCount = 0
        for head in det.indices where !hasPrevious[head] {
            var i = head
            while i >= 0 {
                trackOf[i] = trackCount
                if next[i] >= 0 && hop(i, next[i]) { trackCount += 1 }
                i = next[i]
            }
            trackCount += 1
        }
        for _ in 0..<3 {
            var sx = [Double](repeating: 0, count: trackCount), sy = sx, n = sx
            for (i, d) in det.enumerated() {
                let shift = drift[frames.local(d.frame)]
                sx[trackOf[i]] += d.x - shift.dx; sy[trackOf[i]] += d.y - shift.dy; n[trackOf[i]] += 1
            }
            var updated = drift
            for t in 0..<frames.count {
                var rx: [Double] = [], ry: [Double] = []
                for i in frames.members(t) where n[trackOf[i]] > 1 {
                    let k = trackOf[i]
                    rx.append(det[i].x - drift[t].dx - sx[k] / n[k]); ry.append(det[i].y - drift[t].dy - sy[k] / n[k])
                }
                if !rx.isEmpty { updated[t] = (drift[t].dx + Statistics.median(rx), drift[t].dy + Statistics.median(ry)) }
            }
            let origin = updated[0]
            drift = updated.map { ($0.dx - origin.dx, $0.dy - origin.dy) }
        }
        return drift
    }

    // MARK: - Gap closing

    /// Joins segment ends to segment starts 2…maxGap+1 frames later by one optimal assignment.
    static func closeGaps(_ frames: FrameIndex, drift: [(dx: Double, dy: Double)], next: inout [Int],
                          options: TrackingOptions) {
        let det = frames.detections
        var hasPrevious = [Bool](repeating: false, count: det.count)
        for j in next where j >= 0 { hasPrevious[j] = true }
        // Ends: detections without a successor; starts: without a predecessor.
        var startsByFrame = [[Int]](repeating: [], count: frames.count)
        var endsByFrame = [[Int]](repeating: [], count: frames.count)  // rows: index into `ends`
        var ends: [Int] = []
        for t in 0..<frames.count {
            for i in frames.members(t) {
                if next[i] < 0 { endsByFrame[t].append(ends.count); ends.append(i) }
                if !hasPrevious[i] { startsByFrame[t].append(i) }
            }
        }
        var startIds: [Int] = [], startColumn = [Int](repeating: -1, count: det.count)
        for s in startsByFrame.joined() { startColumn[s] = startIds.count; startIds.append(s) }
        let reach = options.gapMaxDistance ?? options.maxDistance
        let r2 = reach * reach
        let death = options.deathCost ?? r2 / 2, birth = options.birthCost ?? r2 / 2
        var edges: [CandidateEdge] = []
        for gapFrames in 2...(options.maxGap + 1) {
            for t in 0..<max(frames.count - gapFrames, 0) {
                let starts = startsByFrame[t + gapFrames]
                if starts.isEmpty { continue }
                let sx = starts.map { det[$0].x - drift[t + gapFrames].dx }, sy = starts.map { det[$0].y - drift[t + gapFrames].dy }
                let grid = CellGrid(xs: sx, ys: sy, cellSize: reach)
                for row in endsByFrame[t] {
                    let e = ends[row]
                    let x = det[e].x - drift[t].dx, y = det[e].y - drift[t].dy
                    grid.forEachNeighbour(x: x, y: y) { k in
                        let dx = sx[k] - x, dy = sy[k] - y
                        let d2 = dx * dx + dy * dy
                        if d2 <= r2 { edges.append(CandidateEdge(row: row, column: startColumn[starts[k]], cost: d2)) }
                    }
                }
            }
        }
        let match = LinearAssignment.solveComponents(rows: ends.count, columns: startIds.count, edges: edges,
                                                  rowUnassignedCost: death, columnUnassignedCost: birth)
        for (row, col) in match.enumerated() where col >= 0 { next[ends[row]] = startIds[col] }
    }

    // MARK: - Tracks

    static func assemble(_ detections: [Detection], frames: FrameIndex, drift: [(dx: Double, dy: Double)],
                         next: [Int]) -> TrackingResult {
        var hasPrevious = [Bool](repeating: false, count: detections.count)
        for j in next where j >= 0 { hasPrevious[j] = true }
        var tracks: [Track] = []
        var trackOf = [Int](repeating: -1, count: detections.count)
        for t in 0..<frames.count {
            for head in frames.members(t) where !hasPrevious[head] {
                var points: [TrackPoint] = []
                var i = head
                while i >= 0 {
                    let d = detections[i], shift = drift[frames.local(d.frame)]
                    points.append(TrackPoint(frame: d.frame, x: d.x, y: d.y, xCorrected: d.x - shift.dx,
                                             yCorrected: d.y - shift.dy, classLabel: d.classLabel,
                                             score: d.score, detection: i))
                    trackOf[i] = tracks.count
                    i = next[i]
                }
                tracks.append(Track(id: tracks.count, points: points))
            }
        }
        let steps = drift.enumerated().map { DriftStep(frame: frames.first + $0.offset, dx: $0.element.dx, dy: $0.element.dy) }
        return TrackingResult(tracks: tracks, drift: steps, trackOfDetection: trackOf)
    }
}

/// Detections grouped by frame (local frame index = frame − first), in input order within a frame.
struct FrameIndex {
    let detections: [Detection]
    let first: Int
    let count: Int
    private let start: [Int], order: [Int]

    init(_ detections: [Detection], first: Int, last: Int) {
        self.detections = detections
        self.first = first
        count = last - first + 1
        var counts = [Int](repeating: 0, count: count + 1)
        for d in detections { counts[d.frame - first + 1] += 1 }
        for t in 0..<count { counts[t + 1] += counts[t] }
        var fill = counts, order = [Int](repeating: 0, count: detections.count)
        for (i, d) in detections.enumerated() { order[fill[d.frame - first]] = i; fill[d.frame - first] += 1 }
        start = counts; self.order = order
    }

    func members(_ t: Int) -> ArraySlice<Int> { order[start[t]..<start[t + 1]] }
    func local(_ frame: Int) -> Int { frame - first }

    /// A per-frame drift as one entry per local frame; frames it lacks get none.
    func localDrift(_ steps: [DriftStep]) -> [(dx: Double, dy: Double)] {
        var drift = [(dx: Double, dy: Double)](repeating: (0, 0), count: count)
        for s in steps where s.frame >= first && s.frame - first < count { drift[s.frame - first] = (s.dx, s.dy) }
        return drift
    }
}
