import Core
import Foundation

/// Frames without a crystal lattice, whose labels are all background: what the network must
/// learn to leave empty (a blank frame, the noise of vacuum, amorphous carbon, hydrocarbon
/// contamination).
public enum NegativeKind: String, Codable, Sendable, CaseIterable {
    /// No signal, no read noise: an all-zero frame.
    case blank
    /// A faint uniform signal (≤ 20 % of a carbon monolayer's mean) with shot and read noise.
    case vacuum
    /// One to three layers of randomly placed carbon atoms (no two closer than 1.3 Å).
    case amorphousCarbon
    /// Patches of amorphous carbon on a bright, smooth contamination background.
    case hydrocarbon
}

/// Recipe option: a fraction of the training items are negatives.
public struct Negatives: Codable, Sendable, Equatable {
    /// Fraction of items (0–1) that are negatives.
    public var fraction: Double
    /// Kinds, drawn with equal probability (default: all).
    public var kinds: [NegativeKind]?
    public init(fraction: Double, kinds: [NegativeKind]? = nil) { self.fraction = fraction; self.kinds = kinds }

    func validate() throws {
        guard fraction.isFinite, (0...1).contains(fraction), !(kinds?.isEmpty ?? false) else {
            throw SimulationError.invalidRecipe("negatives: fraction must be 0–1 and kinds, if given, not empty")
        }
    }

    /// Item `index`'s kind, or nil for a lattice frame. Drawn from a stream of its own, so the
    /// lattice frames are exactly those of the same recipe without negatives.
    func kind(seed: UInt64, index: Int) -> NegativeKind? {
        var rng = SeededGenerator(seed: seed ^ 0x4E45_4741_5449_5645, index: index)
        guard rng.uniform() < fraction else { return nil }
        let choices = kinds ?? NegativeKind.allCases
        return choices[rng.int(choices.count)]
    }
}

/// The specimens of negative frames.
enum NegativeSpecimen {
    /// Projected atoms per Å² of one layer (graphene has 0.38).
    static let layerDensity = 0.35
    /// Closest approach of two atoms in one layer (Å; C–C bonds are 1.42 Å).
    static let minDistance = 1.3

    /// Carbon atoms of `layers` amorphous layers covering [−margin, width + margin] × [−margin,
    /// height + margin] Å, each placed by random sequential adsorption: random positions, a
    /// candidate closer than `minDistance` to an atom of its layer is rejected (a ring network
    /// without long-range order, no lattice for the network to find).
    static func amorphousCarbon(width: Double, height: Double, margin: Double, layers: Int,
                                rng: inout SeededGenerator) -> [Column] {
        let w = width + 2 * margin, h = height + 2 * margin, d = minDistance
        let target = Int(layerDensity * w * h), nx = Int(w / d) + 1, ny = Int(h / d) + 1
        var columns: [Column] = []
        for _ in 0..<layers {
            var grid = [[Vec2]](repeating: [], count: nx * ny)   // cells of side d: neighbours lie in the 3×3 block
            var placed = 0
            for _ in 0..<(20 * target) where placed < target {
                let p = Vec2(rng.uniform(0, w), rng.uniform(0, h))
                let cx = min(nx - 1, Int(p.x / d)), cy = min(ny - 1, Int(p.y / d))
                var free = true
                for gy in max(0, cy - 1)...min(ny - 1, cy + 1) where free {
                    for gx in max(0, cx - 1)...min(nx - 1, cx + 1) where free {
                        free = grid[gy * nx + gx].allSatisfy { ($0.x - p.x) * ($0.x - p.x) + ($0.y - p.y) * ($0.y - p.y) >= d * d }
                    }
                }
                guard free else { continue }
                grid[cy * nx + cx].append(p)
                placed += 1
                columns.append(Column(position: Vec2(p.x - margin, p.y - margin), symbol: "C", z: 6, count: 1, site: nil))
            }
        }
        return columns
    }

    /// Noiseless signal of a negative frame of kind `kind` (before the recipe's own
    /// contamination and noise).
    static func signal(_ kind: NegativeKind, geometry g: FrameGeometry, renderer: Renderer, zExponent: Double?,
                       rng: inout SeededGenerator) -> [Float] {
        let monolayerMean = renderer.microscope.crossSection(z: 6) * layerDensity
        let margin = renderer.probe.cutoff + 1
        switch kind {
        case .blank:
            return [Float](repeating: 0, count: g.width * g.height)
        case .vacuum:
            return [Float](repeating: Float(rng.uniform(0, 0.2) * monolayerMean), count: g.width * g.height)
        case .amorphousCarbon:
            let atoms = amorphousCarbon(width: g.fieldWidth, height: g.fieldHeight, margin: margin, layers: 1 + rng.int(3), rng: &rng)
            return renderer.render(atoms, geometry: g, zExponent: zExponent)
        case .hydrocarbon:
            // Patches: the atoms where a smooth random field (broad humps) is above its median.
            let field = Noise.contamination(geometry: g, meanSignal: 1, level: 1, rng: &rng)
            let threshold = Statistics.median(field.map(Double.init))
            let atoms = amorphousCarbon(width: g.fieldWidth, height: g.fieldHeight, margin: margin, layers: 1 + rng.int(3), rng: &rng)
                .filter { c in
                    let col = min(g.width - 1, max(0, Int((c.position.x / g.pixelSize).rounded())))
                    let row = min(g.height - 1, max(0, Int((c.position.y / g.pixelSize).rounded())))
                    return Double(field[row * g.width + col]) > threshold
                }
            var image = renderer.render(atoms, geometry: g, zExponent: zExponent)
            let level = Float(rng.uniform(0.5, 2) * monolayerMean)
            for i in image.indices { image[i] += level * field[i] }
            return image
        }
    }
}
