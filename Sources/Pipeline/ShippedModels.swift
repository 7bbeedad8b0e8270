import Core
import Foundation

/// Finds the models shipped in `Models/`: next to the executable's package checkout, or
/// under `$ATOMTRACK_MODELS`.
public enum ShippedModels {
    /// Material names → shipped model directory names.
    public static let byMaterial = ["graphene-si": "graphene-si", "graphene": "graphene-si",
                                    "ws2": "tmd-ws2", "mos2": "tmd-ws2", "tmd": "tmd-ws2", "tmd-ws2": "tmd-ws2"]

    public static func resolve(model: String?, material: String?) throws -> URL {
        if let model { return URL(fileURLWithPath: model) }
        guard let material else { throw InputError("give --model DIR or --material (\(materials))") }
        guard let name = byMaterial[material.lowercased()] else {
            throw InputError("unknown material '\(material)'; shipped models: \(materials)")
        }
        for root in searchRoots() {
            let dir = root.appendingPathComponent(name)
            if FileManager.default.fileExists(atPath: dir.appendingPathComponent("model.safetensors").path) { return dir }
        }
        throw InputError("shipped model '\(name)' not found (looked in \(searchRoots().map(\.path).joined(separator: ", "))); set ATOMTRACK_MODELS or pass --model")
    }

    static var materials: String { "graphene-si, ws2" }

    /// `$ATOMTRACK_MODELS`, `./Models`, and `Models/` above the executable (…/.build/release/atomtrack).
    static func searchRoots() -> [URL] {
        var roots: [URL] = []
        if let env = ProcessInfo.processInfo.environment["ATOMTRACK_MODELS"] { roots.append(URL(fileURLWithPath: env)) }
        roots.append(URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent("Models"))
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<4 {
            roots.append(dir.appendingPathComponent("Models"))
            dir = dir.deletingLastPathComponent()
        }
        return roots
    }
}
