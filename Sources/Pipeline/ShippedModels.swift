import Core
import Foundation

/// Finds the files shipped with AtomTrack — models (`Models/`) and recipes (`TrainingData/`) — in
/// the current directory, the package checkout the executable was built in, or the
/// `PREFIX/share/atomtrack` of an installed binary (`scripts/install.sh PREFIX`).
public enum ShippedFiles {
    /// Folders that may hold `Models/` and `TrainingData/`, most specific first: the current
    /// directory, the executable's folder and up to three above it (a checkout's
    /// `.build/release/atomtrack`), and `../share/atomtrack` beside an installed `bin/atomtrack`.
    public static func roots() -> [URL] {
        var roots = [URL(fileURLWithPath: FileManager.default.currentDirectoryPath)]
        let binDir = executable.deletingLastPathComponent()
        var dir = binDir
        for _ in 0..<4 {
            roots.append(dir)
            dir = dir.deletingLastPathComponent()
        }
        roots.append(binDir.deletingLastPathComponent().appendingPathComponent("share/atomtrack"))
        return roots
    }

    /// The package checkout the executable was built in (…/.build/<config>/atomtrack), if it is one.
    public static var checkout: URL? {
        var dir = executable.deletingLastPathComponent()
        for _ in 0..<4 {
            if FileManager.default.fileExists(atPath: dir.appendingPathComponent("Package.swift").path) { return dir }
            dir = dir.deletingLastPathComponent()
        }
        return nil
    }

    /// The running executable with symlinks resolved. On Linux `/proc/self/exe`, which is right
    /// however the binary was started (through PATH, a symlink, or a relative path).
    static var executable: URL {
        #if os(Linux)
        if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            return URL(fileURLWithPath: path)
        }
        #endif
        return (Bundle.main.executableURL ?? URL(fileURLWithPath: CommandLine.arguments[0])).resolvingSymlinksInPath()
    }

    /// `path` itself when it exists (or is absolute); else the first shipped file with that relative
    /// path, so `TrainingData/movie-ws2.json` works from any directory. A path found nowhere is
    /// returned unchanged, for the reader to report.
    public static func locate(_ path: String) -> String {
        guard !path.hasPrefix("/"), !FileManager.default.fileExists(atPath: path) else { return path }
        for root in roots().dropFirst() {
            let candidate = root.appendingPathComponent(path).path
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
        }
        return path
    }
}

/// Finds the models shipped in `Models/` (see `ShippedFiles`), or under `$ATOMTRACK_MODELS`.
public enum ShippedModels {
    /// Material names → shipped model directory names. There is no MoS2 model: `mos2` is refused
    /// rather than silently read with the WS2 model (Mo and W columns differ in contrast).
    public static let byMaterial = ["graphene-si": "graphene-si", "graphene": "graphene-si",
                                    "ws2": "tmd-ws2", "tmd-ws2": "tmd-ws2"]

    public static func resolve(model: String?, material: String?) throws -> URL {
        if let model { return URL(fileURLWithPath: model) }
        guard let material else { throw InputError("give --model DIR or --material (\(materials))") }
        if material.lowercased() == "mos2" {
            throw InputError("no shipped MoS2 model (shipped: \(materials)); train one (`atomtrack train`) and pass --model DIR, or use --material ws2 knowing it was trained on WS2")
        }
        guard let name = byMaterial[material.lowercased()] else {
            throw InputError("unknown material '\(material)'; shipped models: \(materials)")
        }
        for root in searchRoots() {
            let dir = root.appendingPathComponent(name)
            if FileManager.default.fileExists(atPath: dir.appendingPathComponent("model.safetensors").path) { return dir }
        }
        throw InputError("shipped model '\(name)' not found (looked in \(searchRoots().map(\.path).joined(separator: ", "))); set ATOMTRACK_MODELS or pass --model")
    }

    /// The materials with a shipped model (aliases: graphene, tmd-ws2).
    public static var materials: String { "graphene-si, ws2" }

    /// `$ATOMTRACK_MODELS`, then `Models/` in every shipped-file root.
    static func searchRoots() -> [URL] {
        var roots: [URL] = []
        if let env = ProcessInfo.processInfo.environment["ATOMTRACK_MODELS"] { roots.append(URL(fileURLWithPath: env)) }
        return roots + ShippedFiles.roots().map { $0.appendingPathComponent("Models") }
    }
}
