import Core
import Foundation
import Localization
import MicroscopyIO

/// An atom found in a movie frame, with its class as a table symbol (e.g. `W+Mo`).
public struct FrameAtom: Sendable, Equatable {
    public var frame: Int
    public var x: Double, y: Double
    public var classIndex: Int
    public var score: Float
    public var border: Bool
    /// Standard error of the position per axis in pixels (`Atom.positionSigma`); nil when unknown.
    public var positionSigma: Double?
    /// Calibrated probability that `classIndex` is right (`Atom.classProbability`); nil when unknown.
    public var classProbability: Float?

    public init(frame: Int, x: Double, y: Double, classIndex: Int, score: Float, border: Bool, positionSigma: Double? = nil,
                classProbability: Float? = nil) {
        self.frame = frame; self.x = x; self.y = y; self.classIndex = classIndex; self.score = score; self.border = border
        self.positionSigma = positionSigma; self.classProbability = classProbability
    }

    /// Atom `atom` of frame `frame`.
    public init(frame: Int, _ atom: Atom) {
        self.init(frame: frame, x: atom.x, y: atom.y, classIndex: atom.classIndex, score: atom.score, border: atom.border,
                  positionSigma: atom.positionSigma, classProbability: atom.classProbability)
    }
}

/// Runs the AtomFinder over a movie, one frame at a time, streaming `atoms.csv`
/// (`frame,x,y,class,score,border` + `x_A,y_A` when calibrated + `sigma_px,class_prob`) and overlay PNGs.
public struct MovieLocator {
    public let finder: AtomFinder
    public var pixelSize: Double?
    public var overlayFrames: Set<Int> = [0]
    /// Return every frame's atoms (the analysis needs them; `locate` alone only writes them).
    public var keepAtoms = true
    /// A frame already located (by the pixel-size check), used instead of locating it again
    /// when the loop reaches it at the same pixel size.
    public var located: LocatedFrame?

    public init(finder: AtomFinder, pixelSize: Double?) {
        self.finder = finder
        self.pixelSize = pixelSize
    }

    public static let atomsFile = AtomTable.fileName

    /// How this run's atoms are written to `atoms.csv`.
    public var atomTable: AtomTable { AtomTable(classSymbols: finder.outputClasses.symbols, pixelSize: pixelSize) }

    /// The header line of `atoms.csv`.
    public var tableHeader: String { atomTable.header }

    /// Locates atoms in `frames` of `movie`; returns them (unless `keepAtoms` is off), writing
    /// `atoms.csv` and `overlay_NNNN.png` into `dir`. Frames with NaN/Inf pixels or no signal
    /// are skipped with a warning naming them, never silently.
    /// - Parameters:
    ///   - table: where the atom rows go; nil writes `dir/atoms.csv` (header included). A
    ///     caller-owned table already has its header and is committed by the caller.
    ///   - alreadyDone: frames finished by an earlier, interrupted run (for the progress bar).
    ///   - onFrame: sees each frame and its atoms while the frame is in memory, after its rows were written.
    public func run(movie: Movie, frames: Range<Int>, to dir: URL, table: TextSink? = nil, progress: Bool = true,
                    alreadyDone: Int = 0, onFrame: (Int, GrayImage, [FrameAtom]) throws -> Void = { _, _, _ in }) throws -> [[FrameAtom]] {
        try run(movie: movie, frames: frames, to: dir, table: table, progress: progress, alreadyDone: alreadyDone,
                keepNormalized: false, onNormalizedFrame: { i, image, atoms, _ in try onFrame(i, image, atoms) })
    }

    /// As `run(…onFrame:)`, also handing over the frame as the finder normalized it (nil for a
    /// skipped frame), so later stages need not normalize it again.
    /// - Parameter keepNormalized: false hands over nil instead, so that no normalized copy of
    ///   a frame is made (`locate` alone holds one raw frame and the maps of one band).
    public func run(movie: Movie, frames: Range<Int>, to dir: URL, table: TextSink? = nil, progress: Bool = true, alreadyDone: Int = 0,
                    keepNormalized: Bool = true,
                    onNormalizedFrame onFrame: (Int, GrayImage, [FrameAtom], NormalizedFrame?) throws -> Void) throws -> [[FrameAtom]] {
        let ownTable = table == nil ? try StreamingTextFile(dir.appendingPathComponent(Self.atomsFile)) : nil
        let sink: TextSink = table ?? ownTable!
        if let ownTable { try ownTable.write(tableHeader) }
        var all: [[FrameAtom]] = []
        let bar = ProgressBar("locate", total: frames.count + alreadyDone, quiet: !progress)
        if alreadyDone > 0 { bar.advance(by: alreadyDone, status: "resumed after \(alreadyDone) frames") }
        var firstSkip: LocalizationError?, skipped = 0, overlays: [URL] = []
        // Frame i + 1 is located on a second thread while frame i finishes: its serial steps
        // (locate, rows, defects) and the fits' uneven tail leave a core idle that the next
        // frame's network fills. The movie is read on this thread only, in frame order.
        var pending: [PendingFrame] = []
        defer { pending.forEach { _ = $0.result } }   // an error leaves no thread running
        let inFlight = parallelThreadLimit > 1 ? 2 : 1
        var next = frames.lowerBound
        for i in frames {
            while next < frames.upperBound && pending.count < inFlight {
                pending.append(PendingFrame(read: { try movie.frame(next) }, background: inFlight > 1) { try locateAtoms(in: $0, frame: $1) }
                    .starting(next))
                next += 1
            }
            let frame = pending.removeFirst()
            let image = try frame.image.get()
            var found: [FrameAtom] = []
            var normalized: NormalizedFrame?
            do {
                let (atoms, bounds) = try frame.result.get()
                if keepNormalized { normalized = bounds.apply(image.pixels, width: image.width, height: image.height) }
                found = atoms.map { FrameAtom(frame: i, $0) }
            } catch let e as LocalizationError {
                FileHandle.standardError.write(Data("\nwarning: frame \(i) skipped: \(e)\n".utf8))
                firstSkip = firstSkip ?? e
                skipped += 1
            }
            try sink.write(atomTable.rows(found))
            if overlayFrames.contains(i) {
                overlays.append(dir.appendingPathComponent(String(format: "overlay_%04d.png", i)))
                try writeOverlay(image, found, to: overlays[overlays.count - 1])
            }
            try onFrame(i, image, found, normalized)
            all.append(keepAtoms ? found : [])
            bar.advance(status: "\(found.count) atoms")
        }
        // Nothing found because nothing could be read is a failure, not an empty result
        // (the atom table is dropped unfinished, so no header-only atoms.csv appears).
        if skipped > 0, skipped == frames.count, alreadyDone == 0, let firstSkip {
            for url in overlays { try? FileManager.default.removeItem(at: url) }
            throw InputError("every frame (\(skipped)) was skipped; the first: \(firstSkip)")
        }
        try ownTable?.finish()
        bar.finish()
        return all
    }

    /// Frame `i`'s atoms and normalization: `located`'s when it is this frame at this pixel size.
    func locateAtoms(in image: GrayImage, frame i: Int) throws -> (atoms: [Atom], bounds: NormalizationBounds) {
        if let f = located, f.index == i, f.pixelSize == pixelSize { return (f.atoms, f.bounds) }
        return try finder.locateAtoms(in: image.pixels, width: image.width, height: image.height, pixelSize: pixelSize, frame: i)
    }

    /// `overlay_NNNN.png`: the frame with its atoms as rings.
    public func writeOverlay(_ image: GrayImage, _ atoms: [FrameAtom], to url: URL) throws {
        let png = Overlay.render(image.pixels, width: image.width, height: image.height,
                                 points: atoms.map { ($0.x, $0.y, $0.classIndex) }, radius: overlayRadius)
        try PNGFile.writeRGB(png, to: url)
    }

    /// `locate`: the atoms of `frames` into `dir/atoms.csv` and overlays of the frames in
    /// `overlays`, without keeping them; returns how many atoms were found.
    public static func locate(_ input: MovieInput, frames: Range<Int>, overlays: Set<Int>, to dir: URL, progress: Bool) throws -> Int {
        var locator = MovieLocator(finder: input.finder, pixelSize: input.pixelSize)
        locator.overlayFrames = overlays
        locator.keepAtoms = false
        locator.located = input.frame0
        var total = 0
        _ = try locator.run(movie: input.movie, frames: frames, to: dir, progress: progress) { _, _, atoms in total += atoms.count }
        return total
    }

    var overlayRadius: Double {
        max(1.5, 0.3 * finder.model.card.columnSpacingPixels(pixelSize: pixelSize))
    }
}

/// A frame read on the calling thread and located there or on a background thread; `result`
/// waits for it. A read error is kept for the frame's turn, so errors come in frame order.
final class PendingFrame: @unchecked Sendable {
    typealias Located = (atoms: [Atom], bounds: NormalizationBounds)
    let image: Result<GrayImage, Error>
    private let background: Bool
    private let locate: (GrayImage, Int) throws -> Located
    private let done = DispatchSemaphore(value: 0)
    private var located: Result<Located, Error>?

    init(read: () throws -> GrayImage, background: Bool, locate: @escaping (GrayImage, Int) throws -> Located) {
        image = Result { try read() }
        self.background = background
        self.locate = locate
    }

    /// Starts locating frame `index` (at once on this thread unless `background`).
    func starting(_ index: Int) -> PendingFrame {
        let work: @Sendable () -> Void = { self.located = Result { try self.locate(self.image.get(), index) }; self.done.signal() }
        if background { DispatchQueue.global().async(execute: work) } else { work() }
        return self
    }

    /// The frame's atoms and normalization, or the error locating (or reading) it threw.
    var result: Result<Located, Error> {
        done.wait()
        done.signal()   // later reads return at once
        return located!
    }
}

/// Where `MovieLocator` writes its atom table.
public protocol TextSink: AnyObject {
    func write(_ text: String) throws
}

extension StreamingTextFile: TextSink {}
extension AppendOnlyFile: TextSink {}

/// Frames drawn for looking: robust contrast, atoms as coloured rings.
public enum Overlay {
    /// Okabe–Ito colours per class index.
    public static let colors: [(UInt8, UInt8, UInt8)] = [(230, 159, 0), (86, 180, 233), (0, 158, 115), (213, 94, 0),
                                                          (204, 121, 167), (240, 228, 66), (0, 114, 178)]
    public static let hexColors = ["#E69F00", "#56B4E9", "#009E73", "#D55E00", "#CC79A7", "#F0E442", "#0072B2"]

    /// The frame with 1st–99.9th percentile contrast, as gray RGB.
    public static func gray(_ pixels: [Float], width: Int, height: Int) -> RGBImage {
        // Order statistics in place: no sorted copy of the frame (only a frame with NaN/Inf is filtered).
        let finite = pixels.allSatisfy(\.isFinite) ? pixels : pixels.filter(\.isFinite)
        let (lo, hi): (Float, Float) = finite.isEmpty ? (0, 1) : finite.withUnsafeBufferPointer { f in
            let range = OrderStatistics.smallest(f, ranks: [Int(Double(f.count - 1) * 0.01), Int(Double(f.count - 1) * 0.999)])
            return (range[0], range[1])
        }
        var image = RGBImage(width: width, height: height)
        let span = hi > lo ? hi - lo : 1
        for y in 0..<height { for x in 0..<width {
            let v = pixels[y * width + x]
            let g = UInt8(v.isFinite ? max(0, min(255, (v - lo) / span * 255)) : 0)
            image.set(x: x, y: y, (g, g, g))
        } }
        return image
    }

    public static func render(_ pixels: [Float], width: Int, height: Int, points: [(Double, Double, Int)], radius: Double) -> RGBImage {
        var image = gray(pixels, width: width, height: height)
        for (x, y, c) in points { ring(&image, x: x, y: y, radius: radius, color: colors[c % colors.count]) }
        return image
    }

    static func ring(_ image: inout RGBImage, x: Double, y: Double, radius: Double, color: (UInt8, UInt8, UInt8)) {
        let steps = max(16, Int(2 * Double.pi * radius * 2))
        for k in 0..<steps {
            let t = 2 * Double.pi * Double(k) / Double(steps)
            image.set(x: Int((x + radius * cos(t)).rounded()), y: Int((y + radius * sin(t)).rounded()), color)
        }
    }
}
