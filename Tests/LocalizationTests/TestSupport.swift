import Core
import Foundation


/// A frame of point-sampled Gaussian atoms on a background.
func renderAtoms(_ atoms: [(x: Double, y: Double)], width: Int, height: Int, sigma: Double,
                 amplitude: Double = 1, background: Double = 0) -> [Double] {
    var image = [Double](repeating: background, count: width * height)
    let reach = Int((4 * sigma).rounded(.up))
    for a in atoms {
        let cx = Int(a.x.rounded()), cy = Int(a.y.rounded())
        for y in max(0, cy - reach)...min(height - 1, cy + reach) {
            for x in max(0, cx - reach)...min(width - 1, cx + reach) {
                let dx = Double(x) - a.x, dy = Double(y) - a.y
                image[y * width + x] += amplitude * exp(-(dx * dx + dy * dy) / (2 * sigma * sigma))
            }
        }
    }
    return image
}

/// Two-class maps (background, atom) from one atom-probability plane.
func twoClassMaps(_ atom: [Float]) -> [Float] { atom.map { 1 - $0 } + atom }

/// A "network-like" probability plane: each atom a rasterized disc of `radius` pixels
/// (like the training labels) with probability `inside`, smoothed by a 3×3 box.
func discProbabilities(_ atoms: [(x: Double, y: Double)], width: Int, height: Int, radius: Double,
                       inside: Float = 0.95, outside: Float = 0.02) -> [Float] {
    var raw = [Float](repeating: outside, count: width * height)
    for a in atoms {
        let r = Int(radius.rounded(.up)) + 1
        let cx = Int(a.x.rounded()), cy = Int(a.y.rounded())
        for y in max(0, cy - r)...min(height - 1, cy + r) {
            for x in max(0, cx - r)...min(width - 1, cx + r) {
                let dx = Double(x) - a.x, dy = Double(y) - a.y
                if dx * dx + dy * dy <= radius * radius { raw[y * width + x] = inside }
            }
        }
    }
    var out = raw
    for y in 0..<height {
        for x in 0..<width {
            var s: Float = 0, n: Float = 0
            for yy in max(0, y - 1)...min(height - 1, y + 1) {
                for xx in max(0, x - 1)...min(width - 1, x + 1) { s += raw[yy * width + xx]; n += 1 }
            }
            out[y * width + x] = s / n
        }
    }
    return out
}

/// Jittered square lattice of atoms, away from the frame edge.
func jitteredLattice(width: Int, height: Int, spacing: Double, margin: Double, rng: inout SeededGenerator) -> [(x: Double, y: Double)] {
    var atoms: [(x: Double, y: Double)] = []
    var y = margin
    while y <= Double(height - 1) - margin {
        var x = margin
        while x <= Double(width - 1) - margin {
            atoms.append((x + rng.uniform() - 0.5, y + rng.uniform() - 0.5))
            x += spacing
        }
        y += spacing
    }
    return atoms
}
