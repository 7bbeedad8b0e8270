import Foundation

/// Small, dependency-free SVG charts for the self-contained HTML report.
/// Every chart is a pure function of its data, so the report needs no network (the frame
/// viewer's few lines of script are in `FrameViewer`).
public enum SVGPlot {
    public struct Series {
        public var label: String
        public var x: [Double]
        public var y: [Double]
        /// Optional symmetric or asymmetric error bars (low, high) per point.
        public var errorLow: [Double]?
        public var errorHigh: [Double]?
        public var color: String
        public var dashed: Bool
        public var markers: Bool

        public init(label: String, x: [Double], y: [Double], errorLow: [Double]? = nil,
                    errorHigh: [Double]? = nil, color: String, dashed: Bool = false, markers: Bool = true) {
            self.label = label; self.x = x; self.y = y
            self.errorLow = errorLow; self.errorHigh = errorHigh
            self.color = color; self.dashed = dashed; self.markers = markers
        }
    }

    /// Colours that stay distinguishable for the common forms of colour blindness (Okabe–Ito).
    public static let palette = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]

    /// A line chart with axes, ticks, labels and a legend.
    public static func lineChart(_ series: [Series], title: String, xLabel: String, yLabel: String,
                                 width: Double = 520, height: Double = 340, logY: Bool = false) -> String {
        let left = 64.0, right = 16.0, top = 30.0, bottom = 46.0
        let plotW = width - left - right, plotH = height - top - bottom
        let transformY: (Double) -> Double = logY ? { log10(max($0, 1e-300)) } : { $0 }
        var xs: [Double] = [], ys: [Double] = []
        for s in series {
            xs += s.x
            ys += s.y.map(transformY)
            if let lo = s.errorLow { ys += lo.map(transformY) }
            if let hi = s.errorHigh { ys += hi.map(transformY) }
        }
        xs = xs.filter(\.isFinite); ys = ys.filter(\.isFinite)
        guard let x0 = xs.min(), let x1 = xs.max(), let y0 = ys.min(), let y1 = ys.max() else {
            return emptyChart(title: title, width: width, height: height)
        }
        let (xMin, xMax) = padded(x0, x1, fraction: 0), (yMin, yMax) = padded(y0, y1, fraction: 0.05)
        let px = { (x: Double) in left + (x - xMin) / (xMax - xMin) * plotW }
        let py = { (y: Double) in top + plotH - (transformY(y) - yMin) / (yMax - yMin) * plotH }

        var svg = header(width: width, height: height, title: title)
        svg += axes(left: left, top: top, plotW: plotW, plotH: plotH, xMin: xMin, xMax: xMax,
                    yMin: yMin, yMax: yMax, logY: logY, xLabel: xLabel, yLabel: yLabel, width: width, height: height)
        for s in series {
            let points = zip(s.x, s.y).filter { $0.0.isFinite && $0.1.isFinite && (!logY || $0.1 > 0) }
            if let lo = s.errorLow, let hi = s.errorHigh {
                for i in s.x.indices where i < lo.count && i < hi.count && lo[i].isFinite && hi[i].isFinite {
                    svg += line(px(s.x[i]), py(lo[i]), px(s.x[i]), py(hi[i]), color: s.color, width: 1)
                }
            }
            let path = points.map { "\(fmt(px($0.0))),\(fmt(py($0.1)))" }.joined(separator: " ")
            let dash = s.dashed ? " stroke-dasharray=\"5,4\"" : ""
            svg += "<polyline fill=\"none\" stroke=\"\(s.color)\" stroke-width=\"1.8\"\(dash) points=\"\(path)\"/>\n"
            if s.markers {
                for (x, y) in points {
                    svg += "<circle cx=\"\(fmt(px(x)))\" cy=\"\(fmt(py(y)))\" r=\"2.6\" fill=\"\(s.color)\"/>\n"
                }
            }
        }
        svg += legend(series.map { ($0.label, $0.color, $0.dashed) }, x: left + 8, y: top + 6)
        return svg + "</svg>\n"
    }

    /// A matrix as a heat map with the value (and optionally a second number, e.g. counts) in each cell.
    public static func heatMap(_ values: [[Double]], rowLabels: [String], columnLabels: [String], title: String,
                               cellText: [[String]]? = nil, cell: Double = 64) -> String {
        let n = values.count, m = values.first?.count ?? 0
        let left = 110.0, top = 56.0
        let width = left + Double(m) * cell + 20, height = top + Double(n) * cell + 20
        var svg = header(width: width, height: height, title: title)
        let maxValue = max(values.flatMap { $0 }.filter(\.isFinite).max() ?? 1, 1e-12)
        for (j, label) in columnLabels.enumerated() {
            svg += text(label, x: left + (Double(j) + 0.5) * cell, y: top - 8, anchor: "middle", size: 11)
        }
        for i in 0..<n {
            svg += text(rowLabels[i], x: left - 8, y: top + (Double(i) + 0.5) * cell + 4, anchor: "end", size: 11)
            for j in 0..<m {
                let v = values[i][j]
                let t = v.isFinite ? min(max(v / maxValue, 0), 1) : 0
                let shade = Int(255 - 200 * t)
                let fill = "rgb(\(shade),\(Int(255 - 140 * t)),255)"
                svg += "<rect x=\"\(fmt(left + Double(j) * cell))\" y=\"\(fmt(top + Double(i) * cell))\" width=\"\(fmt(cell))\" height=\"\(fmt(cell))\" fill=\"\(fill)\" stroke=\"#fff\"/>\n"
                let label = cellText?[i][j] ?? String(format: "%.3f", v)
                let ink = t > 0.6 ? "#fff" : "#111"
                for (k, part) in label.split(separator: "\n").enumerated() {
                    svg += text(String(part), x: left + (Double(j) + 0.5) * cell,
                                y: top + Double(i) * cell + cell / 2 + Double(k) * 13, anchor: "middle", size: 11, color: ink)
                }
            }
        }
        return svg + "</svg>\n"
    }

    /// Points drawn over an embedded raster (e.g. a frame as a PNG data URL), in image pixel coordinates.
    public static func overlay(imageDataURL: String, imageWidth: Int, imageHeight: Int, title: String,
                               layers: [(label: String, color: String, points: [(x: Double, y: Double)], radius: Double)],
                               polylines: [(color: String, points: [(x: Double, y: Double)])] = [],
                               scaleBar: (pixels: Double, label: String)? = nil, displayWidth: Double = 520) -> String {
        let scale = displayWidth / Double(max(imageWidth, 1))
        let w = displayWidth, h = Double(imageHeight) * scale
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(fmt(w))\" height=\"\(fmt(h + 24))\" viewBox=\"0 0 \(fmt(w)) \(fmt(h + 24))\" role=\"img\" aria-label=\"\(escape(title))\">\n"
        svg += "<image x=\"0\" y=\"24\" width=\"\(fmt(w))\" height=\"\(fmt(h))\" href=\"\(imageDataURL)\" style=\"image-rendering:pixelated\"/>\n"
        // Pixel centres sit at integer coordinates, so pixel (0,0)'s centre is half a pixel in.
        let px = { (x: Double) in (x + 0.5) * scale }, py = { (y: Double) in 24 + (y + 0.5) * scale }
        for p in polylines where p.points.count > 1 {
            let path = p.points.map { "\(fmt(px($0.x))),\(fmt(py($0.y)))" }.joined(separator: " ")
            svg += "<polyline fill=\"none\" stroke=\"\(p.color)\" stroke-width=\"1.2\" stroke-opacity=\"0.85\" points=\"\(path)\"/>\n"
        }
        for layer in layers {
            for p in layer.points {
                svg += "<circle cx=\"\(fmt(px(p.x)))\" cy=\"\(fmt(py(p.y)))\" r=\"\(fmt(layer.radius))\" fill=\"none\" stroke=\"\(layer.color)\" stroke-width=\"1.3\"/>\n"
            }
        }
        if let bar = scaleBar {
            let length = bar.pixels * scale, x0 = w - length - 16, y0 = 24 + h - 14
            svg += "<rect x=\"\(fmt(x0))\" y=\"\(fmt(y0))\" width=\"\(fmt(length))\" height=\"5\" fill=\"#fff\" stroke=\"#000\"/>\n"
            svg += text(bar.label, x: x0 + length / 2, y: y0 - 5, anchor: "middle", size: 13, weight: "bold", color: "#fff")
        }
        var x = 4.0
        for layer in layers {
            svg += "<circle cx=\"\(fmt(x + 5))\" cy=\"12\" r=\"5\" fill=\"\(layer.color)\"/>"
            svg += text("\(layer.label) (\(layer.points.count))", x: x + 14, y: 16, anchor: "start", size: 12)
            x += 30 + Double(layer.label.count + 6) * 7
        }
        return svg + "</svg>\n"
    }

    /// Bars of a histogram: `counts[k]` over [edges[k], edges[k+1]), one colour per group drawn
    /// side by side, plus optional curves (e.g. a fitted density scaled to counts).
    public static func histogram(edges: [Double], groups: [(label: String, counts: [Int], color: String)],
                                 curves: [Series] = [], title: String, xLabel: String, yLabel: String = "count",
                                 width: Double = 520, height: Double = 300) -> String {
        let left = 64.0, right = 16.0, top = 30.0, bottom = 46.0
        let plotW = width - left - right, plotH = height - top - bottom
        let maxCount = max(groups.flatMap(\.counts).max() ?? 0, 1)
        let maxY = max(Double(maxCount), curves.flatMap(\.y).filter(\.isFinite).max() ?? 0) * 1.05
        guard let x0 = edges.first, let x1 = edges.last, x1 > x0, !groups.isEmpty else {
            return emptyChart(title: title, width: width, height: height)
        }
        let px = { (x: Double) in left + (x - x0) / (x1 - x0) * plotW }
        let py = { (y: Double) in top + plotH - y / maxY * plotH }
        var svg = header(width: width, height: height, title: title)
        svg += axes(left: left, top: top, plotW: plotW, plotH: plotH, xMin: x0, xMax: x1, yMin: 0, yMax: maxY,
                    logY: false, xLabel: xLabel, yLabel: yLabel, width: width, height: height)
        for (g, group) in groups.enumerated() {
            for (k, c) in group.counts.enumerated() where c > 0 && k + 1 < edges.count {
                let w = (px(edges[k + 1]) - px(edges[k])) / Double(groups.count)
                let x = px(edges[k]) + Double(g) * w
                svg += "<rect x=\"\(fmt(x))\" y=\"\(fmt(py(Double(c))))\" width=\"\(fmt(max(w - 0.5, 0.5)))\" height=\"\(fmt(py(0) - py(Double(c))))\" fill=\"\(group.color)\" fill-opacity=\"0.75\"/>\n"
            }
        }
        for s in curves {
            let path = zip(s.x, s.y).filter { $0.0.isFinite && $0.1.isFinite }.map { "\(fmt(px($0.0))),\(fmt(py(min($0.1, maxY))))" }
            svg += "<polyline fill=\"none\" stroke=\"\(s.color)\" stroke-width=\"1.8\"\(s.dashed ? " stroke-dasharray=\"5,4\"" : "") points=\"\(path.joined(separator: " "))\"/>\n"
        }
        svg += legend(groups.map { ($0.label, $0.color, false) } + curves.map { ($0.label, $0.color, $0.dashed) }, x: width - right - 170, y: top + 6)
        return svg + "</svg>\n"
    }

    /// Points coloured by group (e.g. PCA coordinates of defect crops coloured by class).
    public static func scatter(_ groups: [(label: String, x: [Double], y: [Double], color: String)], title: String,
                               xLabel: String, yLabel: String, width: Double = 520, height: Double = 360) -> String {
        let series = groups.map { Series(label: $0.label, x: $0.x, y: $0.y, color: $0.color) }
        let left = 64.0, right = 16.0, top = 30.0, bottom = 46.0
        let plotW = width - left - right, plotH = height - top - bottom
        let xs = series.flatMap(\.x).filter(\.isFinite), ys = series.flatMap(\.y).filter(\.isFinite)
        guard let xa = xs.min(), let xb = xs.max(), let ya = ys.min(), let yb = ys.max() else {
            return emptyChart(title: title, width: width, height: height)
        }
        let (xMin, xMax) = padded(xa, xb, fraction: 0.05), (yMin, yMax) = padded(ya, yb, fraction: 0.05)
        var svg = header(width: width, height: height, title: title)
        svg += axes(left: left, top: top, plotW: plotW, plotH: plotH, xMin: xMin, xMax: xMax, yMin: yMin, yMax: yMax,
                    logY: false, xLabel: xLabel, yLabel: yLabel, width: width, height: height)
        for s in series {
            for (x, y) in zip(s.x, s.y) where x.isFinite && y.isFinite {
                let cx = left + (x - xMin) / (xMax - xMin) * plotW, cy = top + plotH - (y - yMin) / (yMax - yMin) * plotH
                svg += "<circle cx=\"\(fmt(cx))\" cy=\"\(fmt(cy))\" r=\"2.2\" fill=\"\(s.color)\" fill-opacity=\"0.6\"/>\n"
            }
        }
        svg += legend(groups.map { ("\($0.label) (\($0.x.count))", $0.color, false) }, x: left + 8, y: top + 6)
        return svg + "</svg>\n"
    }

    /// A rose (polar histogram) of directions: wedge k spans [k, k+1)·360°/bins, its radius ∝
    /// count; `spokes` (rad) are drawn as reference lines (e.g. the lattice's bond directions).
    /// Angles are in image axes (x right, y down), so the rose reads like the frame.
    public static func rose(counts: [Int], spokes: [Double], title: String, caption: String, color: String,
                            size: Double = 340) -> String {
        let cx = size / 2, cy = size / 2 + 12, radius = size / 2 - 40
        let maxCount = Double(max(counts.max() ?? 0, 1)), step = 2 * Double.pi / Double(max(counts.count, 1))
        var svg = header(width: size, height: size + 10, title: title)
        for r in [0.5, 1.0] {
            svg += "<circle cx=\"\(fmt(cx))\" cy=\"\(fmt(cy))\" r=\"\(fmt(r * radius))\" fill=\"none\" stroke=\"#ccc\"/>\n"
        }
        for a in spokes {
            svg += line(cx, cy, cx + radius * 1.08 * cos(a), cy + radius * 1.08 * sin(a), color: "#888", width: 1)
        }
        for (k, c) in counts.enumerated() where c > 0 {
            let r = radius * Double(c) / maxCount, a0 = Double(k) * step, a1 = a0 + step
            svg += "<path d=\"M\(fmt(cx)),\(fmt(cy)) L\(fmt(cx + r * cos(a0))),\(fmt(cy + r * sin(a0))) A\(fmt(r)),\(fmt(r)) 0 0 1 \(fmt(cx + r * cos(a1))),\(fmt(cy + r * sin(a1))) Z\" fill=\"\(color)\" fill-opacity=\"0.7\"/>\n"
        }
        for (deg, anchor, dx, dy) in [(0, "start", 1.0, 0.0), (90, "middle", 0.0, 1.0), (180, "end", -1.0, 0.0), (270, "middle", 0.0, -1.0)] {
            svg += text("\(deg)°", x: cx + dx * (radius + 6), y: cy + dy * (radius + 14) + 4, anchor: anchor, size: 10)
        }
        svg += text(caption, x: cx, y: size + 4, anchor: "middle", size: 10, color: "#555")
        svg += text("outer ring = \(Int(maxCount)) steps", x: 6, y: size - 10, anchor: "start", size: 10, color: "#555")
        return svg + "</svg>\n"
    }

    // MARK: - pieces

    static func header(width: Double, height: Double, title: String) -> String {
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(fmt(width))\" height=\"\(fmt(height))\" viewBox=\"0 0 \(fmt(width)) \(fmt(height))\" font-family=\"sans-serif\" role=\"img\" aria-label=\"\(escape(title))\">\n"
            + "<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n"
            + text(title, x: width / 2, y: 18, anchor: "middle", size: 14, weight: "bold")
    }

    static func emptyChart(title: String, width: Double, height: Double) -> String {
        header(width: width, height: height, title: title)
            + text("no data", x: width / 2, y: height / 2, anchor: "middle", size: 13, color: "#888") + "</svg>\n"
    }

    static func axes(left: Double, top: Double, plotW: Double, plotH: Double, xMin: Double, xMax: Double,
                     yMin: Double, yMax: Double, logY: Bool, xLabel: String, yLabel: String,
                     width: Double, height: Double) -> String {
        var s = "<rect x=\"\(fmt(left))\" y=\"\(fmt(top))\" width=\"\(fmt(plotW))\" height=\"\(fmt(plotH))\" fill=\"none\" stroke=\"#333\"/>\n"
        for t in ticks(xMin, xMax) {
            let x = left + (t - xMin) / (xMax - xMin) * plotW
            s += line(x, top + plotH, x, top + plotH + 4, color: "#333", width: 1)
            s += text(tickLabel(t), x: x, y: top + plotH + 16, anchor: "middle", size: 10)
        }
        for t in ticks(yMin, yMax) {
            let y = top + plotH - (t - yMin) / (yMax - yMin) * plotH
            s += line(left - 4, y, left, y, color: "#333", width: 1)
            s += line(left, y, left + plotW, y, color: "#eee", width: 1)
            s += text(logY ? "1e\(tickLabel(t))" : tickLabel(t), x: left - 6, y: y + 3, anchor: "end", size: 10)
        }
        s += text(xLabel, x: left + plotW / 2, y: height - 8, anchor: "middle", size: 12)
        s += "<text x=\"14\" y=\"\(fmt(top + plotH / 2))\" font-size=\"12\" text-anchor=\"middle\" transform=\"rotate(-90 14 \(fmt(top + plotH / 2)))\">\(escape(yLabel))</text>\n"
        return s
    }

    static func legend(_ entries: [(String, String, Bool)], x: Double, y: Double) -> String {
        var s = ""
        for (i, (label, color, dashed)) in entries.enumerated() {
            let yy = y + Double(i) * 15 + 6
            s += "<line x1=\"\(fmt(x))\" y1=\"\(fmt(yy))\" x2=\"\(fmt(x + 18))\" y2=\"\(fmt(yy))\" stroke=\"\(color)\" stroke-width=\"2\"\(dashed ? " stroke-dasharray=\"4,3\"" : "")/>"
            s += text(label, x: x + 24, y: yy + 4, anchor: "start", size: 11)
        }
        return s
    }

    /// About five round tick values covering [a, b].
    static func ticks(_ a: Double, _ b: Double) -> [Double] {
        let span = b - a
        guard span > 0, span.isFinite else { return [a] }
        let raw = span / 5, magnitude = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? raw
        var t = ceil(a / step) * step, out: [Double] = []
        while t <= b + step * 1e-9 { out.append(t); t += step }
        return out
    }

    static func padded(_ a: Double, _ b: Double, fraction: Double) -> (Double, Double) {
        if a == b { return (a - 1, b + 1) }
        let pad = (b - a) * fraction
        return (a - pad, b + pad)
    }

    static func tickLabel(_ v: Double) -> String {
        if v == 0 { return "0" }
        if abs(v) >= 1e4 || abs(v) < 1e-3 { return String(format: "%.1e", v) }
        return String(format: "%g", (v * 1e6).rounded() / 1e6)
    }

    static func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, color: String, width: Double) -> String {
        "<line x1=\"\(fmt(x1))\" y1=\"\(fmt(y1))\" x2=\"\(fmt(x2))\" y2=\"\(fmt(y2))\" stroke=\"\(color)\" stroke-width=\"\(fmt(width))\"/>\n"
    }

    static func text(_ s: String, x: Double, y: Double, anchor: String, size: Int, weight: String = "normal",
                     color: String = "#111") -> String {
        "<text x=\"\(fmt(x))\" y=\"\(fmt(y))\" font-size=\"\(size)\" font-weight=\"\(weight)\" text-anchor=\"\(anchor)\" fill=\"\(color)\">\(escape(s))</text>\n"
    }

    static func fmt(_ v: Double) -> String { String(format: "%.1f", v) }

    public static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
