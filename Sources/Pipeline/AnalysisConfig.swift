import Core
import Foundation

/// Every parameter of an `analyze` run; written to OUT/config.json so a run can be repeated
/// exactly with `--config`.
public struct AnalysisConfig: Codable, Sendable {
    public var movie: String
    /// Model directory; nil picks the shipped model for `material`.
    public var model: String?
    public var material: String?
    /// Å per pixel; nil uses the file's calibration.
    public var pixelSize: Double?
    /// Seconds per frame (for Å²/s and timescales in s); nil assumes 1 s, with a warning.
    public var frameTime: Double?
    /// The image signal of a multi-signal file (a Velox detector); nil reads its default (HAADF).
    public var signal: String?
    public var firstFrame = 0
    public var frameCount: Int?
    public var finder = AtomFinder.Options()
    public var defects = DefectCollector.Options()
    public var kinetics = Kinetics.Options()
    public var overlayFrames: [Int] = [0]
    /// Measure holes and vacancy clusters per frame (voids.csv) by the Fourier lattice analysis; off by
    /// default because it re-reads every frame and costs about as much as locating it.
    public var voids = false
    public init(movie: String) { self.movie = movie }

    /// Refuses every setting that is not physical or would trap later (a negative count, NaN,
    /// a range that overflows), naming the setting; `analyze` runs it before its first byte is
    /// written, whether the values come from flags or from a `--config` file.
    public func validate() throws {
        let require = InputError.require
        if let p = pixelSize { try require(p.isFinite && Calibration.pixelSizeRange.contains(p), "pixelSize", p, "expected 0.001–100 Å") }
        if let t = frameTime { try require(t.isFinite && Calibration.frameTimeRange.contains(t), "frameTime", t, "expected 10⁻⁶–10⁶ s") }
        try require(firstFrame >= 0, "firstFrame", firstFrame, "expected ≥ 0")
        if let n = frameCount { try require(n >= 1, "frameCount", n, "expected ≥ 1") }
        try require(overlayFrames.allSatisfy { $0 >= 0 }, "overlayFrames", overlayFrames, "expected frame numbers ≥ 0")
        try finder.validate()  // the model's size divisor is checked again when it is loaded
        try defects.validate(prefix: "defects.")
        let k = kinetics
        try require(k.maxStepColumns.isFinite && k.maxStepColumns > 0 && k.maxStepColumns <= 1000, "kinetics.maxStepColumns",
                    k.maxStepColumns, "expected 0 < value ≤ 1000")
        try require(k.maxGap >= 0 && k.maxGap <= 1_000_000, "kinetics.maxGap", k.maxGap, "expected 0–10⁶ frames")
        try require(k.minTrackLength >= 1, "kinetics.minTrackLength", k.minTrackLength, "expected ≥ 1")
        try require(k.lag >= 1 && k.lag <= 1_000_000, "kinetics.lag", k.lag, "expected 1–10⁶ frames")
        try require(k.bootstrapSamples >= 0 && k.bootstrapSamples <= 100_000, "kinetics.bootstrapSamples", k.bootstrapSamples, "expected 0–100000")
        try require(k.driftAtomsPerFrame >= 1, "kinetics.driftAtomsPerFrame", k.driftAtomsPerFrame, "expected ≥ 1")
    }

    /// Reads a configuration (e.g. an earlier run's config.json). Settings it lacks take their
    /// defaults, so files from older versions keep working; an unknown setting is an error
    /// (a misspelt key would otherwise be ignored silently).
    public static func decode(_ data: Data) throws -> AnalysisConfig {
        guard let given = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw InputError("not a JSON object")
        }
        let defaults = try JSONSerialization.jsonObject(with: JSONEncoder().encode(AnalysisConfig(movie: ""))) as! [String: Any]
        let merged = try merge(given, over: defaults, path: "")
        do { return try JSONDecoder().decode(AnalysisConfig.self, from: JSONSerialization.data(withJSONObject: merged)) } catch {
            throw InputError("a setting has the wrong type (\(error))")
        }
    }

    private static func merge(_ given: [String: Any], over defaults: [String: Any], path: String) throws -> [String: Any] {
        var out = defaults
        for (key, value) in given {
            let name = path + key
            // Optional settings (model, material, pixelSize, frameTime, signal, frameCount) are absent from the defaults.
            let optional = ["model", "material", "pixelSize", "frameTime", "signal", "frameCount"].contains(name)
            guard defaults[key] != nil || optional else { throw InputError("unknown setting '\(name)'") }
            if let inner = value as? [String: Any], let base = defaults[key] as? [String: Any] {
                out[key] = try merge(inner, over: base, path: name + ".")
            } else {
                out[key] = value
            }
        }
        return out
    }
}
