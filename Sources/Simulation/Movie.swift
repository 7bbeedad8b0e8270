import Core
import Foundation

/// A mobile defect's truth in one frame.
public struct DefectFrame: Sendable, Equatable {
    public var frame: Int
    public var id: Int
    /// State index into the movie's states (-1 for a static defect).
    public var state: Int
    public var stateName: String
    /// Apparent position in pixels (drift, rotation and scan distortion included).
    public var x: Double, y: Double
    /// Drift-free position in the lattice frame (Å): the random walk itself.
    public var latticePosition: Vec2
    /// Whether the defect is inside the frame.
    public var visible: Bool
}

/// One simulated movie frame with its truth.
public struct MovieFrame: Sendable {
    public var index: Int
    /// Counts (or the noiseless signal if the movie has no dose), row-major.
    public var image: [Float]
    public var columns: [Column]
    public var defects: [DefectFrame]
    /// The holes' truth in this frame (movies with `holes`).
    public var holes: [HoleTruth] = []
}

/// The diffusion truth of one state: D = Γ·d²/4 for hops of length d at total rate Γ on a 2-D lattice.
public struct StateDiffusion: Codable, Sendable, Equatable {
    public var state: String
    public var hopRatePerSecond: Double
    public var hopDistanceA: Double
    public var diffusionA2PerSecond: Double
    public var diffusionPx2PerFrame: Double
    /// Share of hop targets refused because another defect is near (`isBlocked`), averaged over the
    /// frames defects spent in this state; the movie's D is lower by this share: D·(1 − blocked).
    /// nil in truth files written before it was recorded.
    public var blockedHopShare: Double?

    /// The D the movie's defects in this state really diffuse with (Å²/s): Γ·d²/4 less the hops crowding refused.
    public var effectiveDA2PerSecond: Double { diffusionA2PerSecond * (1 - (blockedHopShare ?? 0)) }

    enum CodingKeys: String, CodingKey {
        case state, hopRatePerSecond = "hop_rate_per_s", hopDistanceA = "hop_distance_A"
        case diffusionA2PerSecond = "D_A2_per_s", diffusionPx2PerFrame = "D_px2_per_frame"
        case blockedHopShare = "blocked_hop_share"
    }
}

/// Ground truth of a movie, with the output contract's text generators.
public struct MovieTruth: Sendable {
    public var summary: MovieSummary
    public var atomRows: [String] = []
    public var defectRows: [String] = []
    public var holeRows: [String] = []

    /// `truth_atoms.csv`: frame,x,y,class,defect_id — one row per atom (an S2 column gives two rows at the same
    /// position, as in the validation truth); defect_id is -1 for lattice atoms. Positions in pixels.
    public var atomsCSV: String { "frame,x,y,class,defect_id\n" + atomRows.joined() }
    /// `truth_defects.csv`: frame,defect_id,x,y,state — every defect inside the frame, in pixels.
    public var defectsCSV: String { "frame,defect_id,x,y,state\n" + defectRows.joined() }
    /// `truth_voids.csv`: frame,hole,x,y,radius_A,sites,area_A2 — each hole in each frame (movies with holes).
    public var voidsCSV: String? { holeRows.isEmpty ? nil : HoleTruth.header + holeRows.joined() }
    /// `truth.json`: calibration, microscope, classes, true D per state, transition matrix, seed.
    public func json() throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try e.encode(summary)
    }
}

/// The `truth.json` contents.
public struct MovieSummary: Codable, Sendable, Equatable {
    public var recipe: String
    public var lattice: String
    public var seed: UInt64
    public var width: Int, height: Int, frames: Int
    public var pixelSizeA: Double
    public var frameTimeS: Double
    public var doseEPerA2: Double?
    public var microscope: Microscope
    public var classes: [String]
    public var states: [String]
    public var transitionMatrix: [[Double]]
    public var diffusion: [StateDiffusion]
    public var rotationDegrees: Double
    public var driftAPerFrame: [Double]
    public var notes: String

    enum CodingKeys: String, CodingKey {
        case recipe, lattice, seed, width, height, frames, microscope, classes, states, diffusion, notes
        case pixelSizeA = "pixel_size_A", frameTimeS = "frame_time_s", doseEPerA2 = "dose_e_per_A2"
        case transitionMatrix = "transition_matrix", rotationDegrees = "rotation_deg", driftAPerFrame = "drift_A_per_frame"
    }
}

/// Simulates a movie: the recipe's lattice with mobile defects moved by kinetic Monte Carlo between frames.
/// Between frames f and f+1 each defect, in state s_f, hops to a random nearest same-species site at rate Γ(s_f)
/// (exponential waiting times); at the end of the interval it switches state with the transition matrix row s_f.
public struct MovieSimulator: Sendable {
    public let recipe: Recipe
    public let spec: MovieSpec
    public let lattice: Lattice
    let renderer: Renderer
    /// Hop offsets to the nearest same-species sites, per basis site.
    let hopOffsets: [[SiteKey]]

    public init(recipe: Recipe) throws {
        try recipe.validate()
        guard let m = recipe.movie else { throw SimulationError.invalidRecipe("recipe '\(recipe.name)' has no movie section") }
        self.recipe = recipe; spec = m
        lattice = try Lattice.named(recipe.lattice)
        renderer = try Renderer(microscope: recipe.microscope)
        hopOffsets = lattice.basis.indices.map { [lattice] in lattice.hopNeighbours(of: $0).offsets }
        guard lattice.species.contains(where: { $0.symbol == m.host }) else {
            throw SimulationError.invalidRecipe("movie host '\(m.host)' is not in lattice \(lattice.name)")
        }
    }

    public var geometry: FrameGeometry { FrameGeometry(width: recipe.width, height: recipe.height, pixelSize: spec.pixelSize) }

    /// True diffusion per state.
    public var diffusion: [StateDiffusion] {
        let b = lattice.basis.firstIndex { lattice.species[$0.species].symbol == spec.host } ?? 0
        let d = lattice.hopNeighbours(of: b).distance
        return spec.states.map { s in
            let D = s.hopRate * d * d / 4
            return StateDiffusion(state: s.defect.label, hopRatePerSecond: s.hopRate, hopDistanceA: d,
                                  diffusionA2PerSecond: D,
                                  diffusionPx2PerFrame: D * spec.frameTime / (spec.pixelSize * spec.pixelSize))
        }
    }

    /// A mobile defect: where it sits in the lattice, its Markov state and its orientation.
    struct Walker { var id: Int; var site: SiteKey; var state: Int; var orientation: Int }

    /// A static defect (the recipe's `defects`): placed once in the lattice frame, ids after the mobile ones.
    struct StaticDefect { var spec: DefectSpec; var site: SiteKey; var orientation: Int; var id: Int }

    /// What stays the same for the whole movie: the lattice placement before drift, the static defects
    /// and the contamination pattern.
    struct Scene {
        var base: Placement
        var fixed: [StaticDefect]
        var fixedPositions: [Vec2]
        var contamination: [Float]
        var holeCentres: [Vec2] = []
    }

    /// Runs the movie, handing each frame to `onFrame` (frames are not kept), and returns the truth.
    /// The generator is drawn in a fixed order (scene, then per frame: image, hops, drift), so a seed
    /// always gives the same movie.
    public func run(onFrame: (MovieFrame) throws -> Void) throws -> MovieTruth {
        var rng = SeededGenerator(seed: recipe.seed)
        let rotation = (spec.rotationDegrees ?? rng.uniform(0, 360)) * Double.pi / 180
        let base = Placement(rotation: rotation, shift: Vec2(rng.uniform(0, lattice.a), rng.uniform(0, lattice.a)))
        var walkers = placeWalkers(on: startSites(base), rng: &rng)
        let fixed = placeStaticDefects(base, avoiding: walkers.map(\.site), rng: &rng)
        let scene = Scene(base: base, fixed: fixed, fixedPositions: fixed.map { lattice.position($0.site) },
                          contamination: Noise.contamination(geometry: geometry, meanSignal: 1, level: 1, rng: &rng),
                          holeCentres: spec.holes?.centres(frames: spec.frames, width: geometry.fieldWidth,
                                                           height: geometry.fieldHeight, base: base, seed: recipe.seed) ?? [])
        var truth = MovieTruth(summary: summary(rotation: rotation))
        var drift = Vec2.zero
        var blocked = [Double](repeating: 0, count: spec.states.count), frames = blocked
        for f in 0..<spec.frames {
            var placement = base
            placement.shift += drift
            let (frame, scan) = try makeFrame(f, placement: placement, walkers: walkers, scene: scene, rng: &rng)
            record(frame, scan: scan, in: &truth)
            try onFrame(frame)
            if f + 1 < spec.frames {
                for n in walkers.indices {
                    blocked[walkers[n].state] += blockedShare(n, walkers: walkers, fixedPositions: scene.fixedPositions)
                    frames[walkers[n].state] += 1
                }
            }
            advanceOneFrame(&walkers, fixedPositions: scene.fixedPositions, rng: &rng)
            drift += driftStep(rng: &rng)
        }
        for s in truth.summary.diffusion.indices where frames[s] > 0 { truth.summary.diffusion[s].blockedHopShare = blocked[s] / frames[s] }
        return truth
    }

    /// Share of defect n's hop targets that `isBlocked` refuses now (no random draws: the movie is unchanged).
    func blockedShare(_ n: Int, walkers: [Walker], fixedPositions: [Vec2]) -> Double {
        let here = walkers[n].site, choices = hopOffsets[here.b]
        let refused = choices.filter { isBlocked(SiteKey(here.i, here.j, 0) + $0, for: n, walkers: walkers, fixedPositions: fixedPositions) }
        return Double(refused.count) / Double(max(choices.count, 1))
    }

    // MARK: Defect placement

    /// Host sites the mobile defects start on: well inside the first frame (or anywhere in it, if it is tiny).
    func startSites(_ base: Placement) -> [SiteKey] {
        let g = geometry
        return [-3.0, 0, lattice.a].lazy.map { m in
            lattice.sites(covering: g.fieldWidth, g.fieldHeight, margin: m, transform: base)
                .filter { lattice.species(of: $0).symbol == self.spec.host }
        }.first { !$0.isEmpty } ?? []
    }

    /// The mobile defects on random start sites kept apart, in states drawn from the stationary distribution
    /// (so the movie starts in equilibrium). A defect with no free site after 50 tries is left out.
    func placeWalkers(on sites: [SiteKey], rng: inout SeededGenerator) -> [Walker] {
        guard !sites.isEmpty else { return [] }
        let stationary = Self.stationary(spec.transitionMatrix)
        var walkers: [Walker] = []
        for id in 0..<spec.count {
            for _ in 0..<50 {
                let k = sites[rng.int(sites.count)]
                if isCrowded(k, by: walkers.map(\.site)) { continue }
                walkers.append(Walker(id: id, site: k, state: Self.draw(stationary, &rng), orientation: rng.int(6)))
                break
            }
        }
        return walkers
    }

    /// The recipe's static defects: a Poisson number per type from its density, on host sites of the first
    /// frame kept apart from each other and from the mobile defects (a crowded draw is dropped).
    func placeStaticDefects(_ base: Placement, avoiding mobile: [SiteKey], rng: inout SeededGenerator) -> [StaticDefect] {
        let g = geometry
        let areaNm2 = g.fieldWidth * g.fieldHeight / 100
        var fixed: [StaticDefect] = []
        for defect in recipe.defects {
            let candidates = lattice.sites(covering: g.fieldWidth, g.fieldHeight, margin: 0, transform: base)
                .filter { lattice.species(of: $0).symbol == defect.host }
            guard !candidates.isEmpty else { continue }
            for _ in 0..<rng.poisson((defect.density ?? 0) * areaNm2) {
                let k = candidates[rng.int(candidates.count)]
                if isCrowded(k, by: mobile + fixed.map(\.site)) { continue }
                fixed.append(StaticDefect(spec: defect, site: k, orientation: rng.int(6), id: spec.count + fixed.count))
            }
        }
        return fixed
    }

    /// Whether a defect at `k` would sit within 2.5 lattice constants of one already at `taken`
    /// (so that defect images do not overlap).
    func isCrowded(_ k: SiteKey, by taken: [SiteKey]) -> Bool {
        taken.contains { distance(lattice.position($0), lattice.position(k)) < 2.5 * lattice.a }
    }

    // MARK: One frame

    /// Builds frame `f`: the defects applied to the lattice at `placement`, the atoms thermally jittered,
    /// the image rendered through the scan distortion (returned too: the truth needs it) with noise.
    func makeFrame(_ f: Int, placement: Placement, walkers: [Walker], scene: Scene,
                   rng: inout SeededGenerator) throws -> (MovieFrame, ScanDistortion) {
        let g = geometry
        let sites = lattice.sites(covering: g.fieldWidth, g.fieldHeight, margin: renderer.probe.cutoff + 1, transform: placement)
        var map = SiteMap(lattice: lattice, sites: sites)
        let defects = try applyDefects(to: &map, frame: f, placement: placement, walkers: walkers, fixed: scene.fixed)
        let holes = spec.holes?.carve(&map, centres: scene.holeCentres, frame: f, placement: placement, pixelSize: g.pixelSize) ?? []
        var columns = map.placed(placement)
        addThermalJitter(to: &columns, rng: &rng)
        let scan = scanDistortion(rng: &rng)
        let image = renderImage(columns, scan: scan, contamination: scene.contamination, rng: &rng)
        return (MovieFrame(index: f, image: image, columns: columns, defects: defects, holes: holes), scan)
    }

    /// Applies the static, then the mobile defects to the site map and returns each one's truth record.
    func applyDefects(to map: inout SiteMap, frame f: Int, placement: Placement, walkers: [Walker],
                      fixed: [StaticDefect]) throws -> [DefectFrame] {
        var records: [DefectFrame] = []
        for d in fixed {
            guard let centre = try map.apply(d.spec, at: d.site, id: d.id, orientation: d.orientation) else { continue }
            records.append(defectRecord(frame: f, id: d.id, state: -1, label: d.spec.label, centre: centre,
                                        site: d.site, placement: placement))
        }
        for w in walkers {
            let st = spec.states[w.state]
            let centre = try map.apply(st.defect, at: w.site, id: w.id, orientation: w.orientation) ?? lattice.position(w.site)
            records.append(defectRecord(frame: f, id: w.id, state: w.state, label: st.defect.label, centre: centre,
                                        site: w.site, placement: placement))
        }
        return records
    }

    /// A defect's truth in one frame: its centre seen through `placement` (in pixels) and its drift-free site.
    func defectRecord(frame f: Int, id: Int, state: Int, label: String, centre: Vec2, site: SiteKey,
                      placement: Placement) -> DefectFrame {
        let pix = placement.apply(centre) / geometry.pixelSize
        return DefectFrame(frame: f, id: id, state: state, stateName: label, x: pix.x, y: pix.y,
                           latticePosition: lattice.position(site), visible: isInFrame(pix))
    }

    /// Whether a pixel position falls on one of the frame's pixels.
    func isInFrame(_ p: Vec2) -> Bool {
        p.x >= -0.5 && p.y >= -0.5 && p.x < Double(geometry.width) - 0.5 && p.y < Double(geometry.height) - 0.5
    }

    /// Moves every column by the recipe's thermal jitter (Å rms per axis), if any.
    func addThermalJitter(to columns: inout [Column], rng: inout SeededGenerator) {
        guard let j = recipe.distortions?.thermalJitter, j > 0 else { return }
        for i in columns.indices { columns[i].position += Vec2(rng.normal(), rng.normal()) * j }
    }

    /// This frame's scan: random line jitter plus the recipe's flyback lag.
    func scanDistortion(rng: inout SeededGenerator) -> ScanDistortion {
        let d = recipe.distortions ?? Distortions()
        var scan = ScanDistortion.jitter(rms: d.scanJitter ?? 0, lines: geometry.height, rng: &rng)
        scan.flybackAmplitude = d.flybackAmplitude ?? 0
        scan.flybackLength = d.flybackLength ?? 10
        return scan
    }

    /// The frame's image: the noiseless render plus contamination (scaled to the frame's mean signal), then
    /// shot and read noise when the movie has a dose.
    func renderImage(_ columns: [Column], scan: ScanDistortion, contamination: [Float],
                     rng: inout SeededGenerator) -> [Float] {
        let d = recipe.distortions ?? Distortions()
        var image = renderer.render(columns, geometry: geometry, scan: scan)
        if let level = d.contamination, level > 0 {
            let mean = image.reduce(0.0) { $0 + Double($1) } / Double(image.count)
            for i in image.indices { image[i] += contamination[i] * Float(mean * level) }
        }
        if let dose = spec.dose {
            image = Noise.poisson(image, dose: dose, pixelSize: geometry.pixelSize, rng: &rng)
            Noise.addGaussian(&image, sigma: d.readNoise ?? 0, rng: &rng)
        }
        return image
    }

    // MARK: Truth

    /// Adds a frame's truth rows: atoms at their apparent positions (scan shifts included) and defects,
    /// both only when inside the frame.
    func record(_ frame: MovieFrame, scan: ScanDistortion, in truth: inout MovieTruth) {
        for c in frame.columns {
            let p = apparentPixel(c.position, scan: scan, pixelSize: geometry.pixelSize)
            guard isInFrame(p) else { continue }
            let row = "\(frame.index),\(fmt(p.x)),\(fmt(p.y)),\(c.symbol),\(c.defectID)\n"
            for _ in 0..<c.count { truth.atomRows.append(row) }
        }
        for r in frame.defects where r.visible {
            truth.defectRows.append("\(frame.index),\(r.id),\(fmt(r.x)),\(fmt(r.y)),\(r.stateName)\n")
        }
        truth.holeRows += frame.holes.map(\.row)
    }

    // MARK: Dynamics between frames

    /// One frame time of kinetic Monte Carlo: each defect in turn hops over the whole interval, then
    /// switches state with its transition-matrix row.
    func advanceOneFrame(_ walkers: inout [Walker], fixedPositions: [Vec2], rng: inout SeededGenerator) {
        for n in walkers.indices {
            hopForOneFrame(n, in: &walkers, fixedPositions: fixedPositions, rng: &rng)
            walkers[n].state = Self.draw(spec.transitionMatrix[walkers[n].state], &rng)
        }
    }

    /// Hops of defect `n` during one frame time: exponential waiting times at its state's rate, each hop to a
    /// random nearest same-species site; a hop onto a site next to another defect is refused (time still passes).
    func hopForOneFrame(_ n: Int, in walkers: inout [Walker], fixedPositions: [Vec2], rng: inout SeededGenerator) {
        let rate = spec.states[walkers[n].state].hopRate
        var t = rate > 0 ? rng.exponential(rate: rate) : .infinity
        while t < spec.frameTime {
            let here = walkers[n].site, choices = hopOffsets[here.b]
            let target = SiteKey(here.i, here.j, 0) + choices[rng.int(choices.count)]
            if !isBlocked(target, for: n, walkers: walkers, fixedPositions: fixedPositions) { walkers[n].site = target }
            t += rng.exponential(rate: rate)
        }
    }

    /// Whether `target` lies within 1.5 lattice constants of another mobile or a static defect.
    func isBlocked(_ target: SiteKey, for n: Int, walkers: [Walker], fixedPositions: [Vec2]) -> Bool {
        let p = lattice.position(target)
        return walkers.indices.contains { $0 != n && distance(lattice.position(walkers[$0].site), p) < 1.5 * lattice.a }
            || fixedPositions.contains { distance($0, p) < 1.5 * lattice.a }
    }

    /// The field's shift between two frames (Å): the recipe's linear drift plus a Gaussian random walk step.
    func driftStep(rng: inout SeededGenerator) -> Vec2 {
        let v = spec.drift ?? [0, 0]
        return Vec2(v.count > 0 ? v[0] : 0, v.count > 1 ? v[1] : 0)
            + Vec2(rng.normal(), rng.normal()) * (spec.driftNoise ?? 0)
    }

    /// Runs the movie and keeps every frame.
    public func simulate() throws -> (frames: [MovieFrame], truth: MovieTruth) {
        var frames: [MovieFrame] = []
        let truth = try run { frames.append($0) }
        return (frames, truth)
    }

    func summary(rotation: Double) -> MovieSummary {
        MovieSummary(
            recipe: recipe.name, lattice: lattice.name, seed: recipe.seed,
            width: recipe.width, height: recipe.height, frames: spec.frames,
            pixelSizeA: spec.pixelSize, frameTimeS: spec.frameTime, doseEPerA2: spec.dose,
            microscope: recipe.microscope,
            classes: Array(Set(lattice.species.map(\.symbol) + spec.states.compactMap(\.defect.element)
                + recipe.defects.compactMap(\.element))).sorted(),
            states: spec.states.map(\.defect.label), transitionMatrix: spec.transitionMatrix,
            diffusion: diffusion, rotationDegrees: rotation * 180 / Double.pi,
            driftAPerFrame: spec.drift ?? [0, 0],
            notes: "Positions in pixels, origin at the centre of the top-left pixel. D is drift-free (lattice frame). "
                + "Between frames f and f+1 a defect hops with the rate of its state at frame f, then switches state "
                + "with the transition matrix (row = state at f). truth_atoms has one row per atom (S2 columns: two rows).")
    }

    /// Stationary distribution of a row-stochastic matrix (power iteration).
    static func stationary(_ t: [[Double]]) -> [Double] {
        var p = [Double](repeating: 1 / Double(t.count), count: t.count)
        for _ in 0..<2000 {
            var q = [Double](repeating: 0, count: t.count)
            for i in t.indices { for j in t.indices { q[j] += p[i] * t[i][j] } }
            p = q
        }
        return p
    }

    static func draw(_ probabilities: [Double], _ rng: inout SeededGenerator) -> Int {
        var u = rng.uniform()
        for (i, p) in probabilities.enumerated() { u -= p; if u < 0 { return i } }
        return probabilities.count - 1
    }
}

/// Where a column appears in the frame (pixels): line shift and flyback lag moved it.
func apparentPixel(_ position: Vec2, scan: ScanDistortion, pixelSize p: Double) -> Vec2 {
    let y = position.y / p
    let row = Int(y.rounded())
    let shift = (row >= 0 && row < scan.lineShift.count) ? scan.lineShift[row] : 0
    var x = position.x / p - shift
    x -= scan.flybackAmplitude * exp(-max(x, 0) / scan.flybackLength)
    return Vec2(x, y)
}

/// Fixed three-decimal formatting (locale-independent, deterministic).
func fmt(_ v: Double) -> String { String(format: "%.3f", v) }
