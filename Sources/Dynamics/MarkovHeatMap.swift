// A heat map of a transition matrix as an RGB raster (no file IO here, so Dynamics needs no
// PNG library: Pipeline's `writeHeatMapPNG` writes markov.png). Cell colour = transition
// probability, cell text = count.

/// An 8-bit RGB image, row-major, 3 bytes per pixel.
public struct MarkovRaster: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// `width * height * 3` bytes, row-major (row = y), RGB.
    public var pixels: [UInt8]

    /// The (r, g, b) value at (x, y).
    public func pixel(x: Int, y: Int) -> (UInt8, UInt8, UInt8) {
        let k = (y * width + x) * 3
        return (pixels[k], pixels[k + 1], pixels[k + 2])
    }
}

extension MarkovStateModel {
    /// Heat map of the transition matrix: white (0) to dark blue (1), the count of
    /// each transition written in its cell, state ids along the top and left edges
    /// (row = from, column = to). `scale` enlarges the 3×5-pixel digits.
    public func heatMap(scale: Int = 2) -> MarkovRaster {
        drawHeatMap(values: transitionMatrix, labels: counts.values.map { Int($0.rounded()) },
                    axis: activeStates, scale: max(scale, 1))
    }
}

/// Draws the grid; `labels` are the numbers printed in the cells (row-major).
func drawHeatMap(values: MarkovMatrix, labels: [Int], axis: [Int], scale: Int) -> MarkovRaster {
    let n = values.size
    let glyphW = 4 * scale                                   // 3 columns + 1 spacing
    let widest = max(labels.map { String($0).count }.max() ?? 1, axis.map { String($0).count }.max() ?? 1)
    let cell = max(widest * glyphW + 4 * scale, 12 * scale)
    let margin = cell
    let side = margin + n * cell
    var img = MarkovRaster(width: side, height: side, pixels: [UInt8](repeating: 255, count: side * side * 3))

    for i in 0..<n {
        for j in 0..<n {
            let v = min(max(values[i, j], 0), 1)
            // White → steel blue → navy.
            let color = (UInt8(255 - 225 * v), UInt8(255 - 195 * v), UInt8(255 - 125 * v))
            let x0 = margin + j * cell, y0 = margin + i * cell
            fill(&img, x0 + 1, y0 + 1, cell - 1, cell - 1, color)
            let ink: UInt8 = v > 0.5 ? 255 : 0
            write(&img, String(labels[i * n + j]), centreX: x0 + cell / 2, centreY: y0 + cell / 2, scale: scale, ink: ink)
        }
        write(&img, String(axis[i]), centreX: margin / 2, centreY: margin + i * cell + cell / 2, scale: scale, ink: 0)
        write(&img, String(axis[i]), centreX: margin + i * cell + cell / 2, centreY: margin / 2, scale: scale, ink: 0)
    }
    return img
}

private func fill(_ img: inout MarkovRaster, _ x0: Int, _ y0: Int, _ w: Int, _ h: Int, _ c: (UInt8, UInt8, UInt8)) {
    for y in max(y0, 0)..<min(y0 + h, img.height) {
        for x in max(x0, 0)..<min(x0 + w, img.width) {
            let k = (y * img.width + x) * 3
            img.pixels[k] = c.0; img.pixels[k + 1] = c.1; img.pixels[k + 2] = c.2
        }
    }
}

/// 3×5 bitmaps of the digits and the minus sign, one row per 3 bits (MSB left).
private let glyphs: [Character: [UInt8]] = [
    "0": [7, 5, 5, 5, 7], "1": [2, 6, 2, 2, 7], "2": [7, 1, 7, 4, 7], "3": [7, 1, 7, 1, 7],
    "4": [5, 5, 7, 1, 1], "5": [7, 4, 7, 1, 7], "6": [7, 4, 7, 5, 7], "7": [7, 1, 1, 1, 1],
    "8": [7, 5, 7, 5, 7], "9": [7, 5, 7, 1, 7], "-": [0, 0, 7, 0, 0],
]

private func write(_ img: inout MarkovRaster, _ text: String, centreX: Int, centreY: Int, scale: Int, ink: UInt8) {
    let w = text.count * 4 * scale - scale, h = 5 * scale
    var x = centreX - w / 2
    let y = centreY - h / 2
    for ch in text {
        if let rows = glyphs[ch] {
            for (r, bits) in rows.enumerated() {
                for c in 0..<3 where bits & (4 >> UInt8(c)) != 0 {
                    fill(&img, x + c * scale, y + r * scale, scale, scale, (ink, ink, ink))
                }
            }
        }
        x += 4 * scale
    }
}
