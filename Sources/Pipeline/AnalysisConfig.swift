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
    public var firstFrame = 0
    public var frameCount: Int?
    public var finder = AtomFinder.Options()
    public var defects = DefectCollector.Options()
    public var kinetics = Kinetics.Options()
    public var overlayFrames: [Int] = [0]
    public init(movie: String) { self.movie = movie }

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
            // Optional settings (model, material, pixelSize, frameTime, frameCount) are absent from the defaults.
            let optional = ["model", "material", "pixelSize", "frameTime", "frameCount"].contains(name)
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
