import Core
import Foundation

extension ReportBuilder {
    /// "Voids and holes": vacuum and vacancy-cluster areas per frame from OUT/voids.csv, with the vacuum
    /// area's least-squares growth rate. Nil (no section) when the run wrote no voids.csv.
    func voidsSection() throws -> String? {
        let url = output.appendingPathComponent(VoidTable.fileName)
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        let table = try CSVTable(url: url)
        let frame = try table.column("frame"), lattice = try table.column("lattice")
        let vacuum = try table.column("vacuum_area_A2"), clusters = try table.column("vacancy_cluster_area_A2")
        let regions = try table.column("vacuum_regions")
        let rows = table.rows.filter { $0[lattice] == "1" }
        guard !rows.isEmpty else { return "<p>No frame showed a lattice the Fourier analysis could fit; no voids measured.</p>" }
        let t = rows.map { time(frames: Double(Int($0[frame]) ?? 0)) }
        let area = rows.map { Double($0[vacuum]) ?? 0 }, clustered = rows.map { Double($0[clusters]) ?? 0 }
        let chart = SVGPlot.lineChart([
            .init(label: "vacuum (holes)", x: t, y: area, color: SVGPlot.palette[0], markers: true),
            .init(label: "vacancy clusters", x: t, y: clustered, color: SVGPlot.palette[1], markers: true),
        ], title: "Void area per frame", xLabel: frameTimeKnown ? "time (s)" : "frame", yLabel: "area (Å²)")
        let rate = VoidTable.slope(t, area)
        let counts = rows.map { Int($0[regions]) ?? 0 }
        let rateText = rate.map { String(format: "%.2f Å²/%@", $0, timeUnit == "s" ? "s" : "frame") } ?? "—"
        return figure(chart, caption: "Empty lattice sites of the Fourier-reconstructed lattice, grouped into vacuum regions "
                      + "(holes: some site has no lattice neighbour left) and vacancy clusters (≥ 2 sites); area = sites × the "
                      + "material's area per site. Vacuum regions per frame: \(counts.min() ?? 0)–\(counts.max() ?? 0); "
                      + "vacuum growth (least squares): \(rateText). Table: voids.csv.")
    }

}
