import Core
import Foundation

/// One simulated frame with everything used to make it.
public struct SimulatedFrame: Sendable {
    /// The recorded frame: counts if a dose was set, else the noiseless signal.
    public var image: [Float]
    /// Noiseless signal (fraction of the beam reaching the detector), before contamination and noise.
    public var signal: [Float]
    public var geometry: FrameGeometry
    public var structure: Structure
    public var dose: Double?
    public var scan: ScanDistortion
    public var seed: UInt64

    /// `truth_atoms.csv` for this frame (frame 0): one row per atom at its apparent pixel position.
    public var truthAtomsCSV: String {
        var out = "frame,x,y,class,defect_id\n"
        for (c, p) in truthColumns {
            for _ in 0..<c.count { out += "0,\(fmt(p.x)),\(fmt(p.y)),\(c.symbol),\(c.defectID)\n" }
        }
        return out
    }

    /// The columns inside the frame with their apparent pixel positions (scan shifts included).
    public var truthColumns: [(column: Column, pixel: Vec2)] {
        structure.columns.compactMap { c in
            let p = apparentPixel(c.position, scan: scan, pixelSize: geometry.pixelSize)
            guard p.x >= -0.5, p.y >= -0.5, p.x < Double(geometry.width) - 0.5, p.y < Double(geometry.height) - 0.5 else { return nil }
            return (c, p)
        }
    }

    /// `truth_defects.csv` for this frame (frame 0): defect centres and their configuration.
    public var truthDefectsCSV: String {
        var out = "frame,defect_id,x,y,state\n"
        for d in structure.defects {
            let p = apparentPixel(d.position, scan: scan, pixelSize: geometry.pixelSize)
            guard p.x >= -0.5, p.y >= -0.5, p.x < Double(geometry.width) - 0.5, p.y < Double(geometry.height) - 0.5 else { continue }
            out += "0,\(d.id),\(fmt(p.x)),\(fmt(p.y)),\(d.state)\n"
        }
        return out
    }
}

/// A labelled column position in a training pair's pixel coordinates (after augmentation).
public struct LabelledPoint: Sendable, Equatable {
    public var x: Double, y: Double
    public var label: Int
    public init(x: Double, y: Double, label: Int) { self.x = x; self.y = y; self.label = label }
}

/// An image and its per-pixel class mask (background = last class), ready for training.
public struct TrainingPair: Sendable {
    /// Image, min–max normalised to [0, 1], row-major.
    public var image: [Float]
    /// Class index per pixel; `classNames.count - 1` is background, `ignoreClass` undecided.
    public var mask: [UInt8]
    /// Mask value of pixels to leave out of the loss (`LabelMaps.ignore` once batched).
    public static let ignoreClass: UInt8 = 255
    public var width: Int, height: Int
    public var classNames: [String]
    /// Every labelled column's position in this pair's pixels and its class.
    public var points: [LabelledPoint]
    /// Augmentation drawn: number of 90° rotations (0…3), horizontal flip, zoom factor.
    public var rotation: Int
    public var flipped: Bool
    public var zoom: Double
    public var pixelSize: Double
    public var dose: Double?

    /// Soft labels instead of discs: one Gaussian (σ in pixels, peak 1) per labelled column in its class's
    /// channel, background = 1 − the sum of the others (clipped at 0). Layout class × height × width.
    public func gaussianLabels(sigma: Double) -> [Float] {
        let classes = classNames.count, plane = width * height
        var out = [Float](repeating: 0, count: classes * plane)
        let r = Int(ceil(3 * sigma))
        for pt in points {
            let cx = Int(pt.x.rounded()), cy = Int(pt.y.rounded())
            let x0 = max(0, cx - r), x1 = min(width - 1, cx + r), y0 = max(0, cy - r), y1 = min(height - 1, cy + r)
            guard x0 <= x1, y0 <= y1 else { continue }
            for y in y0...y1 {
                for x in x0...x1 {
                    let d2 = (Double(x) - pt.x) * (Double(x) - pt.x) + (Double(y) - pt.y) * (Double(y) - pt.y)
                    let i = pt.label * plane + y * width + x
                    out[i] = min(1, out[i] + Float(exp(-d2 / (2 * sigma * sigma))))
                }
            }
        }
        for i in 0..<plane {
            var s: Float = 0
            for c in 0..<(classes - 1) { s += out[c * plane + i] }
            out[(classes - 1) * plane + i] = max(0, 1 - s)
        }
        return out
    }
}

/// Makes frames and training pairs from a recipe. Item `index` depends only on (seed, index),
/// so pairs can be made in any order, in parallel, and identically on every run.
public struct TrainingSetGenerator: Sendable {
    public let recipe: Recipe
    public let lattice: Lattice
    /// Renderers for a small grid of (defocus, source size) values drawn from the recipe's spreads.
    let renderers: [Renderer]

    public init(recipe: Recipe) throws {
        try recipe.validate()
        self.recipe = recipe
        lattice = try Lattice.named(recipe.lattice)
        let spread = recipe.defocusSpread ?? 0
        let sizes = recipe.sourceSizeRange ?? [recipe.microscope.sourceSize, recipe.microscope.sourceSize]
        var scopes: [Microscope] = []
        for df in (spread > 0 ? [-spread, 0, spread] : [0]) {
            for s in (sizes[1] > sizes[0] ? [sizes[0], (sizes[0] + sizes[1]) / 2, sizes[1]] : [sizes[0]]) {
                var m = recipe.microscope
                m.defocus += df; m.sourceSize = s
                try m.validate()
                scopes.append(m)
            }
        }
        renderers = try scopes.map { try Renderer(microscope: $0) }
    }

    /// Class names, background last.
    public var classNames: [String] { (recipe.classes ?? []).map(\.name) + ["background"] }

    /// Simulates frame `index`: random pixel size, placement, defects, distortions, contamination and noise.
    public func frame(index: Int) throws -> SimulatedFrame {
        var rng = SeededGenerator(seed: recipe.seed, index: index)
        let seed = recipe.seed
        let p = rng.uniform(recipe.pixelSize[0], recipe.pixelSize[1])
        let g = FrameGeometry(width: recipe.width, height: recipe.height, pixelSize: p)
        let d = recipe.distortions ?? Distortions()
        let e = d.strain ?? 0
        let placement = Placement(
            rotation: (d.randomRotation ?? false) ? rng.uniform(0, 2 * Double.pi) : 0,
            shift: Vec2(rng.uniform(0, lattice.a), rng.uniform(0, lattice.a)),
            strain: SIMD3(rng.uniform(-e, e), rng.uniform(-e, e), rng.uniform(-e, e)))
        let renderer = renderers[rng.int(renderers.count)]
        if let kind = recipe.negatives?.kind(seed: seed, index: index) {
            return negativeFrame(kind, geometry: g, renderer: renderer, rng: &rng)
        }
        let structure = try buildStructure(lattice: lattice, width: g.fieldWidth, height: g.fieldHeight,
                                           margin: renderer.probe.cutoff + 1, placement: placement,
                                           defects: recipe.defects, thermalJitter: d.thermalJitter ?? 0, rng: &rng)
        var scan = ScanDistortion.jitter(rms: d.scanJitter ?? 0, lines: g.height, rng: &rng)
        scan.flybackAmplitude = rng.uniform(0, d.flybackAmplitude ?? 0)
        scan.flybackLength = d.flybackLength ?? 10
        let n = recipe.zExponentRange.map { rng.uniform($0[0], $0[1]) }
        let signal = renderer.render(structure.columns, geometry: g, scan: scan, zExponent: n)
        let (image, dose) = record(signal, geometry: g, rng: &rng)
        return SimulatedFrame(image: image, signal: signal, geometry: g, structure: structure,
                              dose: dose, scan: scan, seed: seed)
    }

    /// The recorded frame of a noiseless signal: the recipe's contamination (up to its level ×
    /// the mean signal), then shot noise at a dose from the recipe and read noise.
    func record(_ signal: [Float], geometry g: FrameGeometry, readNoise: Double? = nil,
                rng: inout SeededGenerator) -> (image: [Float], dose: Double?) {
        let d = recipe.distortions ?? Distortions()
        var image = signal
        let mean = signal.reduce(0.0) { $0 + Double($1) } / Double(signal.count)
        let bg = Noise.contamination(geometry: g, meanSignal: mean, level: rng.uniform(0, d.contamination ?? 0), rng: &rng)
        for i in image.indices { image[i] += bg[i] }
        guard let dose = recipe.drawDose(rng: &rng) else { return (image, nil) }
        image = Noise.poisson(image, dose: dose, pixelSize: g.pixelSize, rng: &rng)
        Noise.addGaussian(&image, sigma: readNoise ?? rng.uniform(0, d.readNoise ?? 0), rng: &rng)
        return (image, dose)
    }

    /// A frame without a lattice (no columns in its structure, so no labels and no truth atoms).
    /// A blank frame stays all zero; vacuum always carries some read noise (0.2–1 counts).
    func negativeFrame(_ kind: NegativeKind, geometry g: FrameGeometry, renderer: Renderer,
                       rng: inout SeededGenerator) -> SimulatedFrame {
        let n = recipe.zExponentRange.map { rng.uniform($0[0], $0[1]) }
        let signal = NegativeSpecimen.signal(kind, geometry: g, renderer: renderer, zExponent: n, rng: &rng)
        let readNoise = kind == .vacuum ? rng.uniform(0.2, 1) : nil
        let (image, dose) = kind == .blank ? (signal, recipe.drawDose(rng: &rng))
                                           : record(signal, geometry: g, readNoise: readNoise, rng: &rng)
        return SimulatedFrame(image: image, signal: signal, geometry: g, structure: Structure(columns: [], defects: []),
                              dose: dose, scan: ScanDistortion(), seed: recipe.seed)
    }

    /// Class index of a column, or nil if it is not labelled (background).
    func label(of c: Column) -> Int? {
        for (i, cls) in (recipe.classes ?? []).enumerated() where cls.elements.contains(c.symbol) {
            if c.count >= (cls.minCount ?? 1) { return i }
        }
        return nil
    }

    /// Labelled column positions in pixels as they appear in the frame (scan shifts included).
    func points(of f: SimulatedFrame) -> [LabelledPoint] {
        let p = f.geometry.pixelSize
        return f.structure.columns.compactMap { c in
            guard let l = label(of: c) else { return nil }
            let a = apparentPixel(c.position, scan: f.scan, pixelSize: p)
            let x = a.x, y = a.y
            guard x > -0.5, y > -0.5, x < Double(f.geometry.width) - 0.5, y < Double(f.geometry.height) - 0.5 else { return nil }
            return LabelledPoint(x: x, y: y, label: l)
        }
    }

    /// Training pair `index`: a simulated frame, its label mask, then the recipe's augmentation.
    public func pair(index: Int) throws -> TrainingPair {
        let f = try frame(index: index)
        var rng = SeededGenerator(seed: recipe.seed ^ 0xA5A5_5A5A_F00D_CAFE, index: index)
        let frame = LabelledFrame(image: f.image, width: f.geometry.width, height: f.geometry.height,
                                  pixelSize: f.geometry.pixelSize, points: points(of: f), dose: f.dose)
        return (recipe.augmentation ?? Augmentation()).pair(from: frame, classNames: classNames,
                                                            labelRadius: recipe.labelRadius ?? 0.5, rng: &rng)
    }

    static func drawDiscs(_ mask: inout [UInt8], width w: Int, height h: Int, points: [LabelledPoint], radius: Double) {
        let r2 = radius * radius
        for pt in points {
            let x0 = max(0, Int(floor(pt.x - radius))), x1 = min(w - 1, Int(ceil(pt.x + radius)))
            let y0 = max(0, Int(floor(pt.y - radius))), y1 = min(h - 1, Int(ceil(pt.y + radius)))
            if x0 > x1 || y0 > y1 { continue }
            for y in y0...y1 { for x in x0...x1 {
                let dx = Double(x) - pt.x, dy = Double(y) - pt.y
                if dx * dx + dy * dy <= r2 { mask[y * w + x] = UInt8(pt.label) }
            } }
        }
    }
}

/// A frame with its labelled columns, before augmentation: a simulated frame with its truth, or a
/// recorded frame with labels made from it (fine-tuning).
public struct LabelledFrame: Sendable {
    /// The recorded frame (counts or any linear intensity), row-major.
    public var image: [Float]
    public var width: Int, height: Int
    public var pixelSize: Double
    /// Labelled columns in this frame's pixels (class indices; background is not listed).
    public var points: [LabelledPoint]
    /// Columns whose class the labels could not decide (their `label` is not used): the pixels
    /// around them are `TrainingPair.ignoreClass` in the mask, neither atom nor background.
    public var ignored: [LabelledPoint]
    public var dose: Double?
    public init(image: [Float], width: Int, height: Int, pixelSize: Double, points: [LabelledPoint],
                ignored: [LabelledPoint] = [], dose: Double? = nil) {
        self.image = image; self.width = width; self.height = height; self.pixelSize = pixelSize
        self.points = points; self.ignored = ignored; self.dose = dose
    }
}

extension Augmentation {
    /// A training pair from a labelled frame: discs of `labelRadius` Å (at least one pixel) drawn
    /// into the mask over discs of `ignoreRadius` Å of `ignoreClass` around its undecided columns,
    /// then these augmentations, each drawn from `rng` in a fixed order (the ignored columns move
    /// with the image and leave the pair's `points`).
    public func pair(from f: LabelledFrame, classNames: [String], labelRadius: Double,
                     ignoreRadius: Double = 1, rng: inout SeededGenerator) -> TrainingPair {
        let w = f.width, h = f.height
        let bgClass = UInt8(classNames.count - 1), ignore = Int(TrainingPair.ignoreClass)
        let undecided = f.ignored.map { LabelledPoint(x: $0.x, y: $0.y, label: ignore) }
        var mask = [UInt8](repeating: bgClass, count: w * h)
        TrainingSetGenerator.drawDiscs(&mask, width: w, height: h, points: undecided, radius: max(1.0, ignoreRadius / f.pixelSize))
        TrainingSetGenerator.drawDiscs(&mask, width: w, height: h, points: f.points, radius: max(1.0, labelRadius / f.pixelSize))
        var pts = f.points + undecided
        var img = normalised(f.image)
        let a = self
        var zoom = 1.0
        if let z = a.zoom, z.count == 2, z[1] > 1 {
            zoom = rng.uniform(max(1, z[0]), z[1])
            let cw = Double(w) / zoom, ch = Double(h) / zoom
            let ox = rng.uniform(0, Double(w) - cw), oy = rng.uniform(0, Double(h) - ch)
            (img, mask) = Augment.zoom(img, mask, width: w, height: h, origin: (ox, oy), factor: zoom)
            pts = pts.map { LabelledPoint(x: ($0.x - ox) * zoom - 0.5 * (1 - zoom) , y: ($0.y - oy) * zoom - 0.5 * (1 - zoom), label: $0.label) }
                .filter { $0.x > -0.5 && $0.y > -0.5 && $0.x < Double(w) - 0.5 && $0.y < Double(h) - 0.5 }
        }
        if let b = a.blur, b.count == 2, rng.uniform() < (a.blurProbability ?? 0.5) {
            img = Augment.gaussianBlur(img, width: w, height: h, sigma: rng.uniform(b[0], b[1]))
        }
        if let c = a.contrast, c.count == 2 {
            let k = Float(rng.uniform(c[0], c[1]))
            let m = img.reduce(0, +) / Float(img.count)
            img = img.map { min(1, max(0, ($0 - m) * k + m)) }
        }
        if let gm = a.gamma, gm.count == 2 {
            let g = Float(rng.uniform(gm[0], gm[1]))
            img = img.map { pow(max(0, $0), g) }
        }
        if let amp = a.gradient, amp > 0 {
            let t = rng.uniform(0, 2 * Double.pi), s = Float(rng.uniform(0, amp))
            let cx = Float(cos(t)) / Float(w), cy = Float(sin(t)) / Float(h)
            for y in 0..<h { for x in 0..<w { img[y * w + x] += s * (cx * Float(x) + cy * Float(y)) } }
        }
        if let n = a.gaussianNoise, n.count == 2 {
            let s = rng.uniform(n[0], n[1])
            for i in img.indices { img[i] += Float(rng.normal() * s) }
        }
        if let sp = a.saltAndPepper, sp.count == 2 {
            let frac = rng.uniform(sp[0], sp[1])
            let n = Int(frac * Double(img.count))
            for _ in 0..<n { img[rng.int(img.count)] = rng.int(2) == 0 ? 0 : 1 }
        }
        var k = 0, flip = false
        var (W, H) = (w, h)
        if a.flipsAndRotations ?? false {
            k = rng.int(4); flip = rng.int(2) == 1
            if w != h { k &= 2 }  // a non-square frame only turns by 0° or 180°
            if flip { (img, mask, pts) = Augment.flip(img, mask, pts, width: W, height: H) }
            for _ in 0..<k { (img, mask, pts, W, H) = Augment.rot90(img, mask, pts, width: W, height: H) }
        }
        return TrainingPair(image: normalised(img), mask: mask, width: W, height: H, classNames: classNames,
                            points: pts.filter { $0.label != ignore }, rotation: k, flipped: flip, zoom: zoom,
                            pixelSize: f.pixelSize / zoom, dose: f.dose)
    }
}

/// Min–max normalisation to [0, 1] (a flat image becomes all zeros).
func normalised(_ a: [Float]) -> [Float] {
    guard let lo = a.min(), let hi = a.max(), hi > lo else { return [Float](repeating: 0, count: a.count) }
    let s = 1 / (hi - lo)
    return a.map { ($0 - lo) * s }
}

/// Geometric and filtering augmentations on image + mask (+ labelled points).
enum Augment {
    static func flip(_ img: [Float], _ mask: [UInt8], _ pts: [LabelledPoint], width w: Int, height h: Int)
        -> ([Float], [UInt8], [LabelledPoint]) {
        var i2 = img, m2 = mask
        for y in 0..<h { for x in 0..<w { i2[y * w + x] = img[y * w + (w - 1 - x)]; m2[y * w + x] = mask[y * w + (w - 1 - x)] } }
        return (i2, m2, pts.map { LabelledPoint(x: Double(w - 1) - $0.x, y: $0.y, label: $0.label) })
    }

    /// Quarter turn: (x, y) → (y, w−1−x); the new frame is h wide and w high.
    static func rot90(_ img: [Float], _ mask: [UInt8], _ pts: [LabelledPoint], width w: Int, height h: Int)
        -> ([Float], [UInt8], [LabelledPoint], Int, Int) {
        let nw = h, nh = w
        var i2 = img, m2 = mask
        for ny in 0..<nh { for nx in 0..<nw {
            let x = w - 1 - ny, y = nx
            i2[ny * nw + nx] = img[y * w + x]; m2[ny * nw + nx] = mask[y * w + x]
        } }
        return (i2, m2, pts.map { LabelledPoint(x: $0.y, y: Double(w - 1) - $0.x, label: $0.label) }, nw, nh)
    }

    /// Crops a window of size (w/z, h/z) at `origin` and resamples it to w × h (bilinear image, nearest mask).
    /// New pixel centre X maps to old x = origin + (X + 0.5)/z − 0.5.
    static func zoom(_ img: [Float], _ mask: [UInt8], width w: Int, height h: Int, origin: (Double, Double), factor z: Double)
        -> ([Float], [UInt8]) {
        var i2 = img, m2 = mask
        for Y in 0..<h { for X in 0..<w {
            let x = min(max(origin.0 + (Double(X) + 0.5) / z - 0.5, 0), Double(w - 1))
            let y = min(max(origin.1 + (Double(Y) + 0.5) / z - 0.5, 0), Double(h - 1))
            let x0 = min(Int(x), w - 2), y0 = min(Int(y), h - 2)
            let fx = Float(x - Double(x0)), fy = Float(y - Double(y0))
            let a = img[y0 * w + x0], b = img[y0 * w + x0 + 1], c = img[(y0 + 1) * w + x0], d = img[(y0 + 1) * w + x0 + 1]
            i2[Y * w + X] = (a * (1 - fx) + b * fx) * (1 - fy) + (c * (1 - fx) + d * fx) * fy
            m2[Y * w + X] = mask[Int(y.rounded()) * w + Int(x.rounded())]
        } }
        return (i2, m2)
    }

    /// Separable Gaussian blur (σ in pixels), edges clamped.
    static func gaussianBlur(_ img: [Float], width w: Int, height h: Int, sigma: Double) -> [Float] {
        guard sigma > 0.05 else { return img }
        let r = Int(ceil(3 * sigma))
        var k = (-r...r).map { Float(exp(-Double($0 * $0) / (2 * sigma * sigma))) }
        let s = k.reduce(0, +); k = k.map { $0 / s }
        var tmp = img, out = img
        for y in 0..<h { for x in 0..<w {
            var v: Float = 0
            for j in -r...r { v += k[j + r] * img[y * w + min(max(x + j, 0), w - 1)] }
            tmp[y * w + x] = v
        } }
        for y in 0..<h { for x in 0..<w {
            var v: Float = 0
            for j in -r...r { v += k[j + r] * tmp[min(max(y + j, 0), h - 1) * w + x] }
            out[y * w + x] = v
        } }
        return out
    }
}
