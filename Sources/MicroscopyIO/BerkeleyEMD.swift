import Foundation

/// Berkeley EMD v0.2 (NCEM, py4DSTEM; HDF5): any group with attribute `emd_group_type = 1`
/// holds `data` and one vector `dim1…dimN` per axis (C order) with attributes `name` and
/// `units` (e.g. "[m]", "[n_m]"). Movies are (frames, height, width) with `dim1` the frame
/// axis. Each such group is a signal named by its path; the first image-shaped one is read
/// unless `--signal` names another.
enum BerkeleyEMD {
    static func open(_ file: HDF5File, signal: String?) throws -> FrameSource {
        let groups = groups(file)
        guard !groups.isEmpty else { throw MicroscopyIOError.notAnImage(path: file.path, detail: "Berkeley EMD without an emd_group_type=1 group") }
        let datasets = try groups.map { try file.dataset($0 + "/data") }
        let firstImage = datasets.firstIndex { $0.shape.count == 2 || $0.shape.count == 3 }
        let k = try SignalChoice(names: groups).pick(signal, preferred: firstImage, fallback: 0, path: file.path)
        let d = datasets[k], rank = d.shape.count
        let dims = (1...max(rank, 1)).map { axis(file, groups[k] + "/dim\($0)") }
        var info = MovieInfo(format: .berkeleyEMD, frameCount: 0, width: 0, height: 0, sampleType: .uint8, calibration: nil,
                             signals: groups, signal: groups[k])
        if rank >= 2, let x = dims[rank - 1], let y = dims[rank - 2] {
            info.calibration = FileCalibration(x: x, y: y, z: rank == 3 ? dims[0] : nil)
        }
        if rank == 3, let t = dims[0], let perUnit = secondsPerUnit(t.unit) {
            info.frameTime = FileFrameTime.valid(t.scale * perUnit, key: "dim1 (\(t.unit))")
        }
        return try HDF5FrameSource(dataset: d, axis: rank == 3 ? .first : .none, info: info)
    }

    /// Paths of the `emd_group_type = 1` groups, breadth first (depth ≤ 6, ≤ 10 000 links looked at).
    static func groups(_ file: HDF5File) -> [String] {
        var found: [String] = [], queue = [("/", 0)], visited = 0
        while !queue.isEmpty, visited < 10_000 {
            let (group, depth) = queue.removeFirst()
            for child in (try? file.children(of: group, limit: 1000)) ?? [] {
                visited += 1
                let path = (group == "/" ? "" : group) + "/" + child
                guard file.isGroup(path) else { continue }
                if file.numberAttribute("emd_group_type", of: path) == 1, file.exists(path + "/data") { found.append(path) }
                else if depth < 6 { queue.append((path, depth + 1)) }
            }
        }
        return found
    }

    /// One axis: step between the first two values of its vector, unit without brackets and
    /// underscores ("[n_m]" → "nm"); nil when absent or shorter than two values.
    private static func axis(_ file: HDF5File, _ path: String) -> AxisCalibration? {
        guard file.exists(path), let v = try? file.dataset(path).readDoubles(limit: 1 << 24), v.count >= 2 else { return nil }
        let unit = (file.stringAttribute("units", of: path) ?? "").filter { !"[]_".contains($0) }
        return AxisCalibration(scale: v[1] - v[0], unit: unit)
    }

    private static func secondsPerUnit(_ unit: String) -> Double? {
        ["s": 1, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9][unit]
    }
}
