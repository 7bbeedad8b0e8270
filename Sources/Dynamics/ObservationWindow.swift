// Edge correction of step statistics. A defect is tracked only while it is in the field, so a
// step that would end outside is never seen: near the edge the observed steps are mostly the
// ones that stayed, and the mean squared step comes out low. A 160 px field with 16 px hops
// loses about 4ℓ/(πL) ≈ 13 % of its hops that way (uniform defects, isotropic hops).
// Horvitz–Thompson weighting restores it: a step of length r from (x, y) is seen with
// probability q = the share of directions that end inside, so weighting each observed step by
// 1/q makes Σw estimate the number of steps started and Σw·Δr² their total squared length
// (Horvitz & Thompson, J. Am. Stat. Assoc. 47, 663 (1952); the same idea as the Ripley/Ohser
// edge corrections of spatial statistics).

import Foundation

/// The rectangle (px, the frame's own coordinates) in which defects are seen.
public struct ObservationWindow: Sendable, Equatable {
    public var minX: Double, minY: Double, maxX: Double, maxY: Double

    public init(minX: Double, minY: Double, maxX: Double, maxY: Double) {
        self.minX = minX; self.minY = minY; self.maxX = maxX; self.maxY = maxY
    }

    /// The bounding box of the positions defects were seen at: where the detector can see one
    /// (smaller than the frame by the margin a crop needs); nil without positions.
    public init?(boundingX x: [Double], y: [Double]) {
        guard let x0 = x.min(), let x1 = x.max(), let y0 = y.min(), let y1 = y.max() else { return nil }
        self.init(minX: x0, minY: y0, maxX: x1, maxY: y1)
    }

    /// Directions sampled on the circle: the share is exact to 1/720 (the lattice's six hop
    /// directions in an unknown orientation average to the circle).
    static let directions = 720

    /// Probability that a step of length `r` in a uniformly random direction from (x, y) ends inside.
    public func keepProbability(x: Double, y: Double, length r: Double) -> Double {
        guard r > 0 else { return 1 }
        let n = Self.directions
        var inside = 0
        for i in 0..<n {
            let a = (Double(i) + 0.5) * 2 * Double.pi / Double(n)
            let px = x + r * cos(a), py = y + r * sin(a)
            if px >= minX && px <= maxX && py >= minY && py <= maxY { inside += 1 }
        }
        return Double(inside) / Double(n)
    }

    /// Per point of a track seen at (x, y): the weight 1/q of the step to the next point (1 for the
    /// last). An observed step ended inside, so q ≥ 1/720 whatever the rounding.
    public func stepWeights(x: [Double], y: [Double]) -> [Double] {
        x.indices.map { i in
            guard i + 1 < x.count else { return 1 }
            let r = ((x[i + 1] - x[i]) * (x[i + 1] - x[i]) + (y[i + 1] - y[i]) * (y[i + 1] - y[i])).squareRoot()
            return 1 / max(keepProbability(x: x[i], y: y[i], length: r), 1 / Double(Self.directions))
        }
    }
}
