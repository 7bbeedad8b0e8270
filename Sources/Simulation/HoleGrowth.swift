import Core
import Foundation

/// Holes that open in the sheet and grow (beam-driven sputtering from an edge, as in WS2 movies): `count`
/// round holes whose radius grows linearly from `initialRadius` by `growthPerFrame` Å per frame. Every
/// column whose site lies inside a hole is removed. Centres are drawn once, in the lattice frame (so holes
/// drift with the sheet), kept inside the first frame by the final radius plus `edgeMargin` and apart
/// enough that holes never merge.
public struct HoleGrowth: Codable, Sendable, Equatable {
    public var count: Int
    /// Radius (Å) at frame 0 and its growth (Å per frame).
    public var initialRadius: Double
    public var growthPerFrame: Double
    /// Distance (Å) kept between a hole at its final size and the field's edge.
    public var edgeMargin: Double?

    public init(count: Int, initialRadius: Double, growthPerFrame: Double, edgeMargin: Double? = nil) {
        self.count = count; self.initialRadius = initialRadius; self.growthPerFrame = growthPerFrame; self.edgeMargin = edgeMargin
    }

    public func validate(frames: Int) throws {
        guard count >= 0, count <= 100, initialRadius >= 0, growthPerFrame >= 0,
              initialRadius.isFinite, growthPerFrame.isFinite, (edgeMargin ?? 0) >= 0 else {
            throw SimulationError.invalidRecipe("holes need 0 ≤ count ≤ 100, initialRadius ≥ 0, growthPerFrame ≥ 0, edgeMargin ≥ 0 (Å)")
        }
    }

    public func radius(frame f: Int) -> Double { initialRadius + growthPerFrame * Double(f) }

    /// Hole centres in the lattice frame (Å) for a movie of `frames` frames whose first frame is placed by
    /// `base` in a `width` × `height` Å field. Drawn from their own generator, so adding holes to a recipe
    /// leaves the rest of its movie as it was. Fewer than `count` when they do not fit.
    func centres(frames: Int, width: Double, height: Double, base: Placement, seed: UInt64) -> [Vec2] {
        var rng = SeededGenerator(seed: seed, index: 0x401E)
        let r = radius(frame: max(0, frames - 1)), margin = r + (edgeMargin ?? 3)
        guard width > 2 * margin, height > 2 * margin else { return [] }
        var placed: [Vec2] = []
        for _ in 0..<(50 * count) where placed.count < count {
            let p = Vec2(rng.uniform(margin, width - margin), rng.uniform(margin, height - margin))
            if placed.allSatisfy({ distance($0, p) > 2 * r + 4 }) { placed.append(p) }
        }
        return placed.map { base.inverse($0) }
    }

    /// Removes every column whose site lies inside a hole at frame `f` and returns each hole's truth.
    /// `placement` maps the lattice frame to the field (for the centres in pixels).
    func carve(_ map: inout SiteMap, centres: [Vec2], frame f: Int, placement: Placement, pixelSize: Double) -> [HoleTruth] {
        let r = radius(frame: f)
        let siteArea = abs(map.lattice.a1.x * map.lattice.a2.y - map.lattice.a1.y * map.lattice.a2.x) / Double(map.lattice.basis.count)
        return centres.enumerated().map { id, c in
            var removed = 0
            for (k, i) in map.index where distance(map.lattice.position(k), c) < r {
                map.columns[i].count = 0
                removed += 1
            }
            let pix = placement.apply(c) / pixelSize
            return HoleTruth(frame: f, id: id, x: pix.x, y: pix.y, radiusA: r, sites: removed, areaA2: Double(removed) * siteArea)
        }
    }
}

/// One hole's truth in one frame: centre (pixels), radius (Å), lattice sites emptied and their area
/// (sites × the cell's area per site, Å²).
public struct HoleTruth: Sendable, Equatable {
    public var frame: Int, id: Int
    public var x: Double, y: Double
    public var radiusA: Double
    public var sites: Int
    public var areaA2: Double

    /// A `truth_voids.csv` row: frame,hole,x,y,radius_A,sites,area_A2.
    var row: String { "\(frame),\(id),\(fmt(x)),\(fmt(y)),\(fmt(radiusA)),\(sites),\(fmt(areaA2))\n" }
    static let header = "frame,hole,x,y,radius_A,sites,area_A2\n"
}
