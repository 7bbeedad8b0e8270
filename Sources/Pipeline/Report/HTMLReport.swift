import Foundation

/// A self-contained HTML page (inline SVG, data-URL images and inline script; nothing fetched
/// from the network) assembled from titled sections. A script error is recorded on the page
/// (`data-js-error` on <html>), so a headless browser check can see it.
public struct HTMLReport {
    public var title: String
    public private(set) var sections: [(id: String, title: String, body: String)] = []

    public init(title: String) { self.title = title }

    public mutating func add(section title: String, body: String) {
        let id = title.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "-" }
        sections.append((String(id), title, body))
    }

    /// A two-column table of parameters or results.
    public static func table(_ rows: [(String, String)]) -> String {
        "<table>\n" + rows.map { "<tr><th>\(SVGPlot.escape($0.0))</th><td>\(SVGPlot.escape($0.1))</td></tr>" }
            .joined(separator: "\n") + "\n</table>\n"
    }

    /// A table with a header row.
    public static func table(header: [String], rows: [[String]]) -> String {
        var s = "<table>\n<tr>" + header.map { "<th>\(SVGPlot.escape($0))</th>" }.joined() + "</tr>\n"
        for r in rows { s += "<tr>" + r.map { "<td>\(SVGPlot.escape($0))</td>" }.joined() + "</tr>\n" }
        return s + "</table>\n"
    }

    public static func pngDataURL(_ png: Data) -> String { "data:image/png;base64," + png.base64EncodedString() }

    public var html: String {
        let nav = sections.map { "<a href=\"#\($0.id)\">\(SVGPlot.escape($0.title))</a>" }.joined(separator: " · ")
        let body = sections.map { "<section id=\"\($0.id)\"><h2>\(SVGPlot.escape($0.title))</h2>\n\($0.body)</section>" }
            .joined(separator: "\n")
        return """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>\(SVGPlot.escape(title))</title>
        <style>
        body{font-family:system-ui,sans-serif;max-width:1100px;margin:24px auto;padding:0 16px;color:#111}
        h1{font-size:24px} h2{font-size:18px;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:32px}
        nav{font-size:13px;margin-bottom:16px} table{border-collapse:collapse;font-size:13px;margin:8px 0}
        th,td{border:1px solid #ddd;padding:3px 8px;text-align:left} th{background:#f5f5f5}
        .row{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}
        figure{margin:0;display:table} figcaption{display:table-caption;caption-side:bottom}
        figcaption,.caption{font-size:12px;color:#555;max-width:640px}
        .controls{font-size:13px;margin:6px 0} .viewer svg{background:#000}
        </style>
        <script>window.addEventListener('error',e=>document.documentElement.setAttribute('data-js-error',String(e.message)));</script>
        </head><body>
        <h1>\(SVGPlot.escape(title))</h1>
        <nav>\(nav)</nav>
        \(body)
        </body></html>
        """
    }
}
