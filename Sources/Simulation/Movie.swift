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
}

/// The diffusion truth of one state: D = Γ·d²/4 for hops of length d at total rate Γ on a 2-D lattice.
public struct StateDiffusion: Codable, Sendable, Equatable {
    public var state: String
    public var hopRatePerSecond: Double
    public var hopDistanceA: Double
    public var diffusionA2PerSecond: Double
    public var diffusionPx2PerFrame: Double

    enum CodingKeys: String, CodingKey {
        case state, hopRatePerSecond = "hop_rate_per_s", hopDistanceA = "hop_distance_A"
        case diffusionA2PerSecond = "D_A2_per_s", diffusionPx2PerFrame = "D_px2_per_frame"
    }
}

/// Ground truth of a movie, with the output contract's text generators.
public struct MovieTruth: Sendable {
    public var summary: MovieSummary
    public var atomRows: [String] = []
    public var defectRows: [String] = []

    /// `truth_atoms.csv`: frame,x,y,class,defect_id — one row per atom (an S2 column gives two rows at the same
    /// position, as in the validation truth); defect_id is -1 for lattice atoms. Positions in pixels.
    public var atomsCSV: String { "frame,x,y,class,defect_id\n" + atomRows.joined() }
    /// `truth_defects.csv`: frame,defect_id,x,y,state — every defect inside the frame, in pixels.
    public var defectsCSV: String { "frame,defect_id,x,y,state\n" + defectRows.joined() }
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

    public init(recipe: Recipe) throws {
        try recipe.validate()
        guard let m = recipe.movie else { throw SimulationError.invalidRecipe("recipe '\(recipe.name)' has no movie section") }
        self.recipe = recipe; spec = m
        lattice = try Lattice.named(recipe.lattice)
        renderer = try Renderer(microscope: recipe.microscope)
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

    struct Walker { var id: Int; var site: SiteKey; var state: Int; var orientation: Int }

    /// Runs the movie, handing each frame to `onFrame` (frames are not kept), and returns the truth.
    public func run(onFrame: (MovieFrame) throws -> Void) throws -> MovieTruth {
        var rng = SeededGenerator(seed: recipe.seed)
        let g = geometry
        let d = recipe.distortions ?? Distortions()
        let rotation = (spec.rotationDegrees ?? rng.uniform(0, 360)) * Double.pi / 180
        let base = Placement(rotation: rotation, shift: Vec2(rng.uniform(0, lattice.a), rng.uniform(0, lattice.a)))
        let margin = renderer.probe.cutoff + 1
        // Start sites: host sites well inside the first frame (or anywhere in it, if it is tiny), spaced apart.
        let hostSites = [-3.0, 0, lattice.a].lazy.map { m in
            lattice.sites(covering: g.fieldWidth, g.fieldHeight, margin: m, transform: base)
                .filter { lattice.species(of: $0).symbol == self.spec.host }
        }.first { !$0.isEmpty } ?? []
        let stationary = Self.stationary(spec.transitionMatrix)
        var walkers: [Walker] = []
        for id in 0..<spec.count {
            for _ in 0..<50 where !hostSites.isEmpty {
                let k = hostSites[rng.int(hostSites.count)]
                if walkers.contains(where: { distance(lattice.position($0.site), lattice.position(k)) < 2.5 * lattice.a }) { continue }
                walkers.append(Walker(id: id, site: k, state: Self.draw(stationary, &rng), orientation: rng.int(6)))
                break
            }
        }
        // Static defects (the recipe's `defects`): placed once in the lattice frame, ids after the mobile ones.
        var fixed: [(spec: DefectSpec, site: SiteKey, orientation: Int, id: Int)] = []
        let areaNm2 = g.fieldWidth * g.fieldHeight / 100
        for spec in recipe.defects {
            let candidates = lattice.sites(covering: g.fieldWidth, g.fieldHeight, margin: 0, transform: base)
                .filter { lattice.species(of: $0).symbol == spec.host }
            guard !candidates.isEmpty else { continue }
            for _ in 0..<rng.poisson((spec.density ?? 0) * areaNm2) {
                let k = candidates[rng.int(candidates.count)]
                let taken = walkers.map(\.site) + fixed.map(\.site)
                if taken.contains(where: { distance(lattice.position($0), lattice.position(k)) < 2.5 * lattice.a }) { continue }
                fixed.append((spec, k, rng.int(6), self.spec.count + fixed.count))
            }
        }
        let fixedPositions = fixed.map { lattice.position($0.site) }
        let hops = lattice.basis.indices.map { lattice.hopNeighbours(of: $0).offsets }  // per basis site
        let v = spec.drift ?? [0, 0]
        var drift = Vec2.zero
        let contamination = Noise.contamination(geometry: g, meanSignal: 1, level: 1, rng: &rng)
        let contaminationLevel = d.contamination ?? 0
        var truth = MovieTruth(summary: summary(rotation: rotation))
        for f in 0..<spec.frames {
            var placement = base
            placement.shift += drift
            let sites = lattice.sites(covering: g.fieldWidth, g.fieldHeight, margin: margin, transform: placement)
            var map = SiteMap(lattice: lattice, sites: sites)
            var records: [DefectFrame] = []
            for d in fixed {
                guard let centre = try map.apply(d.spec, at: d.site, id: d.id, orientation: d.orientation) else { continue }
                let pix = placement.apply(centre) / g.pixelSize
                let visible = pix.x >= -0.5 && pix.y >= -0.5 && pix.x < Double(g.width) - 0.5 && pix.y < Double(g.height) - 0.5
                records.append(DefectFrame(frame: f, id: d.id, state: -1, stateName: d.spec.label, x: pix.x, y: pix.y,
                                           latticePosition: lattice.position(d.site), visible: visible))
            }
            for w in walkers {
                let st = spec.states[w.state]
                let centre = try map.apply(st.defect, at: w.site, id: w.id, orientation: w.orientation)
                    ?? lattice.position(w.site)
                let pix = placement.apply(centre) / g.pixelSize
                let visible = pix.x >= -0.5 && pix.y >= -0.5 && pix.x < Double(g.width) - 0.5 && pix.y < Double(g.height) - 0.5
                records.append(DefectFrame(frame: f, id: w.id, state: w.state, stateName: st.defect.label,
                                           x: pix.x, y: pix.y, latticePosition: lattice.position(w.site), visible: visible))
            }
            var columns = map.placed(placement)
            if let j = d.thermalJitter, j > 0 {
                for i in columns.indices { columns[i].position += Vec2(rng.normal(), rng.normal()) * j }
            }
            var scan = ScanDistortion.jitter(rms: d.scanJitter ?? 0, lines: g.height, rng: &rng)
            scan.flybackAmplitude = d.flybackAmplitude ?? 0
            scan.flybackLength = d.flybackLength ?? 10
            var image = renderer.render(columns, geometry: g, scan: scan)
            if contaminationLevel > 0 {
                let mean = image.reduce(0.0) { $0 + Double($1) } / Double(image.count)
                for i in image.indices { image[i] += contamination[i] * Float(mean * contaminationLevel) }
            }
            if let dose = spec.dose {
                image = Noise.poisson(image, dose: dose, pixelSize: g.pixelSize, rng: &rng)
                Noise.addGaussian(&image, sigma: d.readNoise ?? 0, rng: &rng)
            }
            // Truth rows: apparent positions (scan shifts included), atoms inside the frame.
            for c in columns {
                let p = apparentPixel(c.position, scan: scan, pixelSize: g.pixelSize)
                guard p.x >= -0.5, p.y >= -0.5, p.x < Double(g.width) - 0.5, p.y < Double(g.height) - 0.5 else { continue }
                let row = "\(f),\(fmt(p.x)),\(fmt(p.y)),\(c.symbol),\(c.defectID)\n"
                for _ in 0..<c.count { truth.atomRows.append(row) }
            }
            for r in records where r.visible {
                truth.defectRows.append("\(f),\(r.id),\(fmt(r.x)),\(fmt(r.y)),\(r.stateName)\n")
            }
            try onFrame(MovieFrame(index: f, image: image, columns: columns, defects: records))
            // Kinetic Monte Carlo over one frame time, then the configuration switch.
            for n in walkers.indices {
                let rate = spec.states[walkers[n].state].hopRate
                var t = rate > 0 ? rng.exponential(rate: rate) : .infinity
                while t < spec.frameTime {
                    let here = walkers[n].site, choices = hops[here.b]
                    let target = SiteKey(here.i, here.j, 0) + choices[rng.int(choices.count)]
                    let p = lattice.position(target)
                    let blocked = walkers.indices.contains { $0 != n && distance(lattice.position(walkers[$0].site), p) < 1.5 * lattice.a }
                        || fixedPositions.contains { distance($0, p) < 1.5 * lattice.a }
                    if !blocked { walkers[n].site = target }
                    t += rng.exponential(rate: rate)
                }
                walkers[n].state = Self.draw(spec.transitionMatrix[walkers[n].state], &rng)
            }
            drift += Vec2(v.count > 0 ? v[0] : 0, v.count > 1 ? v[1] : 0)
                + Vec2(rng.normal(), rng.normal()) * (spec.driftNoise ?? 0)
        }
        return truth
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
