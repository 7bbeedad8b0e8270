// A heat map of a transition matrix as an RGB raster (no file IO here, so Dynamics needs no
// PNG library: Pipeline's `writeHeatMapPNG` writes markov.png). Cell colour = transition
// probability, cell text = count, state names along the edges in an embedded 5×7 font.

/// An 8-bit RGB image, row-major, 3 bytes per pixel.
public struct MarkovRaster: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// `width * height * 3` bytes, row-major (row = y), RGB.
    public var pixels: [UInt8]
    /// Where the matrix starts (the label margin, px, left and top) and each cell's side (px).
    public var margin = 0
    public var cell = 0

    /// The (r, g, b) value at (x, y).
    public func pixel(x: Int, y: Int) -> (UInt8, UInt8, UInt8) {
        let k = (y * width + x) * 3
        return (pixels[k], pixels[k + 1], pixels[k + 2])
    }
}

extension MarkovStateModel {
    /// Heat map of the transition matrix: white (0) to dark blue (1), the count of
    /// each transition written in its cell, state names along the top and left edges
    /// (row = from, column = to). `scale` enlarges the 5×7-pixel glyphs.
    public func heatMap(scale: Int = 2) -> MarkovRaster {
        drawHeatMap(values: transitionMatrix, labels: counts.values.map { Int($0.rounded()) },
                    axis: activeStateNames, scale: max(scale, 1))
    }
}

/// Draws the grid; `labels` are the numbers printed in the cells (row-major), `axis` the state names.
func drawHeatMap(values: MarkovMatrix, labels: [Int], axis: [String], scale: Int) -> MarkovRaster {
    let n = values.size
    let glyphW = (PixelFont.width + 1) * scale
    let widestCount = labels.map { String($0).count }.max() ?? 1, widestName = axis.map(\.count).max() ?? 1
    let cell = max(widestCount * glyphW + 4 * scale, 16 * scale)
    let margin = max(widestName * glyphW + 6 * scale, cell / 2)
    let side = margin + n * cell
    var img = MarkovRaster(width: side, height: side, pixels: [UInt8](repeating: 255, count: side * side * 3),
                           margin: margin, cell: cell)

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
        write(&img, axis[i], centreX: margin / 2, centreY: margin + i * cell + cell / 2, scale: scale, ink: 0)
        write(&img, axis[i], centreX: margin + i * cell + cell / 2, centreY: margin / 2, scale: scale, ink: 0)
    }
    return img
}

private func fill(_ img: inout MarkovRaster, _ x0: Int, _ y0: Int, _ w: Int, _ h: Int, _ c: (UInt8, UInt8, UInt8)) {
    for y in max(y0, 0)..<max(min(y0 + h, img.height), max(y0, 0)) {
        for x in max(x0, 0)..<max(min(x0 + w, img.width), max(x0, 0)) {
            let k = (y * img.width + x) * 3
            img.pixels[k] = c.0; img.pixels[k + 1] = c.1; img.pixels[k + 2] = c.2
        }
    }
}

/// A 5×7 bitmap font (rows top to bottom, `#` = ink): letters (lower case drawn as upper case),
/// digits and the punctuation of state names; anything else is drawn as `?`.
public enum PixelFont {
    public static let width = 5, height = 7

    public static let glyphs: [Character: [String]] = [
        "A": [".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"],
        "B": ["####.", "#...#", "#...#", "####.", "#...#", "#...#", "####."],
        "C": [".###.", "#...#", "#....", "#....", "#....", "#...#", ".###."],
        "D": ["###..", "#..#.", "#...#", "#...#", "#...#", "#..#.", "###.."],
        "E": ["#####", "#....", "#....", "####.", "#....", "#....", "#####"],
        "F": ["#####", "#....", "#....", "####.", "#....", "#....", "#...."],
        "G": [".###.", "#...#", "#....", "#.###", "#...#", "#...#", ".####"],
        "H": ["#...#", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"],
        "I": [".###.", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."],
        "J": ["..###", "...#.", "...#.", "...#.", "...#.", "#..#.", ".##.."],
        "K": ["#...#", "#..#.", "#.#..", "##...", "#.#..", "#..#.", "#...#"],
        "L": ["#....", "#....", "#....", "#....", "#....", "#....", "#####"],
        "M": ["#...#", "##.##", "#.#.#", "#.#.#", "#...#", "#...#", "#...#"],
        "N": ["#...#", "#...#", "##..#", "#.#.#", "#..##", "#...#", "#...#"],
        "O": [".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."],
        "P": ["####.", "#...#", "#...#", "####.", "#....", "#....", "#...."],
        "Q": [".###.", "#...#", "#...#", "#...#", "#.#.#", "#..#.", ".##.#"],
        "R": ["####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#"],
        "S": [".####", "#....", "#....", ".###.", "....#", "....#", "####."],
        "T": ["#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."],
        "U": ["#...#", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."],
        "V": ["#...#", "#...#", "#...#", "#...#", "#...#", ".#.#.", "..#.."],
        "W": ["#...#", "#...#", "#...#", "#.#.#", "#.#.#", "#.#.#", ".#.#."],
        "X": ["#...#", "#...#", ".#.#.", "..#..", ".#.#.", "#...#", "#...#"],
        "Y": ["#...#", "#...#", ".#.#.", "..#..", "..#..", "..#..", "..#.."],
        "Z": ["#####", "....#", "...#.", "..#..", ".#...", "#....", "#####"],
        "0": [".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."],
        "1": ["..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."],
        "2": [".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"],
        "3": ["#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###."],
        "4": ["...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."],
        "5": ["#####", "#....", "####.", "....#", "....#", "#...#", ".###."],
        "6": ["..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."],
        "7": ["#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."],
        "8": [".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."],
        "9": [".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."],
        " ": [".....", ".....", ".....", ".....", ".....", ".....", "....."],
        "-": [".....", ".....", ".....", "#####", ".....", ".....", "....."],
        "+": [".....", "..#..", "..#..", "#####", "..#..", "..#..", "....."],
        "_": [".....", ".....", ".....", ".....", ".....", ".....", "#####"],
        ".": [".....", ".....", ".....", ".....", ".....", ".##..", ".##.."],
        ":": [".....", ".##..", ".##..", ".....", ".##..", ".##..", "....."],
        "(": ["...#.", "..#..", ".#...", ".#...", ".#...", "..#..", "...#."],
        ")": [".#...", "..#..", "...#.", "...#.", "...#.", "..#..", ".#..."],
        "/": [".....", "....#", "...#.", "..#..", ".#...", "#....", "....."],
        "=": [".....", ".....", "#####", ".....", "#####", ".....", "....."],
            "?": [".###.", "#...#", "....#", "...#.", "..#..", ".....", "..#.."],
    ]

    /// The glyph drawn for a character: upper case for lower, `?` when the font lacks it.
    public static func glyph(_ ch: Character) -> [String] {
        let upper = ch.uppercased()   // one character may become several ("ß" → "SS")
        return (upper.count == 1 ? glyphs[Character(upper)] : nil) ?? glyphs["?"]!
    }
}

private func write(_ img: inout MarkovRaster, _ text: String, centreX: Int, centreY: Int, scale: Int, ink: UInt8) {
    let w = text.count * (PixelFont.width + 1) * scale - scale, h = PixelFont.height * scale
    var x = centreX - w / 2
    let y = centreY - h / 2
    for ch in text {
        for (r, row) in PixelFont.glyph(ch).enumerated() {
            for (c, bit) in row.enumerated() where bit == "#" {
                fill(&img, x + c * scale, y + r * scale, scale, scale, (ink, ink, ink))
            }
        }
        x += (PixelFont.width + 1) * scale
    }
}
