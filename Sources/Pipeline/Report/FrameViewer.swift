import Core
import Foundation
import MicroscopyIO
import Tracking

/// The report's movie viewer: every frame (or every k-th of a long movie) as an 8-bit PNG,
/// with the frame's atoms, its defects in their class colours and the tracks up to the shown
/// frame drawn over it by a few lines of inline script; a slider, the arrow keys and a play
/// button step through the movie, and `report.html#frame=N` opens at frame N. Positions are the
/// frame's own pixels (drift not removed).
public struct FrameViewer {
    /// A frame ready to embed: its movie frame number and PNG data URL.
    public struct Frame {
        public var number: Int
        public var imageURL: String
    }

    public var frames: [Frame]
    /// Full-resolution size of the movie's frames (px); images are stretched over it.
    public var width: Int, height: Int
    /// Frames of the movie and the stride of those shown (1 = all).
    public var movieFrames: Int
    public var stride: Int
    /// Per shown frame: its atoms (x, y, class index) and defects (x, y, class).
    public var atoms: [[(x: Double, y: Double, c: Int)]]
    public var defects: [[(x: Double, y: Double, c: Int)]]
    public var tracks: [Track]
    public var atomLabels: [String], atomColors: [String]
    public var stateLabels: [String], stateColors: [String]
    public var atomRadius: Double
    public var scaleBar: ScaleBar?

    /// A bar of a round physical length.
    public struct ScaleBar: Equatable {
        public var pixels: Double
        public var label: String

        /// About a fifth of `widthPixels`, rounded to 1, 2 or 5 × 10ⁿ Å (shown in nm from 10 Å).
        public init(widthPixels: Int, pixelSize: Double) {
            let target = Double(widthPixels) * pixelSize / 5
            let magnitude = pow(10, floor(log10(target)))
            let length = [5.0, 2, 1].map { $0 * magnitude }.first { $0 <= target } ?? magnitude
            pixels = length / pixelSize
            label = length >= 10 ? "\(SVGPlot.tickLabel(length / 10)) nm" : "\(SVGPlot.tickLabel(length)) Å"
        }
    }

    /// The element id the script marks when it ran (`data-viewer="ready"`), for browser checks.
    public static let readyMarker = "data-viewer=\"ready\""

    public var html: String {
        let w = Double(width), h = Double(height)
        var s = "<div class=\"viewer\"><svg id=\"fv\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"-0.5 -0.5 \(w) \(h)\" "
            + "width=\"640\" height=\"\(SVGPlot.fmt(640 * h / w))\" role=\"img\" aria-label=\"movie frames\">\n"
            + "<image id=\"fv-img\" x=\"-0.5\" y=\"-0.5\" width=\"\(w)\" height=\"\(h)\" preserveAspectRatio=\"none\" "
            + "href=\"\(frames.first?.imageURL ?? "")\" style=\"image-rendering:pixelated\"/>\n"
            + "<g id=\"fv-tracks\" fill=\"none\" stroke-width=\"\(SVGPlot.fmt(w / 400))\"></g>"
            + "<g id=\"fv-atoms\" fill=\"none\" stroke-width=\"\(SVGPlot.fmt(w / 500))\"></g>"
            + "<g id=\"fv-defects\" fill=\"none\" stroke-width=\"\(SVGPlot.fmt(w / 220))\"></g>\n"
        if let bar = scaleBar {
            let x = w - bar.pixels - w * 0.04, y = h * 0.95
            s += "<rect x=\"\(SVGPlot.fmt(x))\" y=\"\(SVGPlot.fmt(y))\" width=\"\(SVGPlot.fmt(bar.pixels))\" height=\"\(SVGPlot.fmt(h / 80))\" fill=\"#fff\" stroke=\"#000\" stroke-width=\"\(SVGPlot.fmt(w / 800))\"/>"
                + "<text x=\"\(SVGPlot.fmt(x + bar.pixels / 2))\" y=\"\(SVGPlot.fmt(y - h / 80))\" font-size=\"\(SVGPlot.fmt(h / 22))\" text-anchor=\"middle\" fill=\"#fff\" stroke=\"#000\" stroke-width=\"\(SVGPlot.fmt(w / 900))\" font-family=\"sans-serif\" font-weight=\"bold\">\(SVGPlot.escape(bar.label))</text>\n"
        }
        s += "</svg>\n<div class=\"controls\"><button id=\"fv-play\" type=\"button\">▶ play</button> "
            + "<input id=\"fv-slider\" type=\"range\" min=\"0\" max=\"\(max(frames.count - 1, 0))\" value=\"0\" step=\"1\" "
            + "aria-label=\"frame\" data-frames=\"\(frames.count)\" style=\"width:420px\"> <span id=\"fv-label\">frame \(frames.first?.number ?? 0)</span><br>"
            + "<label><input id=\"fv-show-atoms\" type=\"checkbox\" checked> atoms</label> "
            + "<label><input id=\"fv-show-defects\" type=\"checkbox\" checked> defects</label> "
            + "<label><input id=\"fv-show-tracks\" type=\"checkbox\" checked> tracks so far</label> · "
            + legend(atomLabels, atomColors, ring: true) + " · " + legend(stateLabels, stateColors, ring: false)
            + "</div></div>\n"
        return s + "<script>\n" + dataScript + Self.script + "</script>\n"
    }

    func legend(_ labels: [String], _ colors: [String], ring: Bool) -> String {
        zip(labels, colors).map { l, c in
            "<span style=\"color:\(c)\">\(ring ? "○" : "■")</span> \(SVGPlot.escape(l))"
        }.joined(separator: " ")
    }

    /// The data as JS literals: positions to 0.1 px, tracks as parallel arrays.
    var dataScript: String {
        func points(_ p: [(x: Double, y: Double, c: Int)]) -> String {
            "[" + p.map { "\(r1($0.x)),\(r1($0.y)),\($0.c)" }.joined(separator: ",") + "]"
        }
        let trackJS = tracks.map { t in
            "{f:[" + t.points.map { "\($0.frame)" }.joined(separator: ",") + "],x:[" + t.points.map { r1($0.x) }.joined(separator: ",")
                + "],y:[" + t.points.map { r1($0.y) }.joined(separator: ",") + "],s:[" + t.points.map { "\($0.classLabel)" }.joined(separator: ",") + "]}"
        }
        func strings(_ a: [String]) -> String { "[" + a.map { "\"\($0)\"" }.joined(separator: ",") + "]" }
        return "const FV={n:[" + frames.map { "\($0.number)" }.joined(separator: ",") + "],\n"
            + "img:[" + frames.map { "\"\($0.imageURL)\"" }.joined(separator: ",\n") + "],\n"
            + "atoms:[" + atoms.map(points).joined(separator: ",\n") + "],\n"
            + "defects:[" + defects.map(points).joined(separator: ",\n") + "],\n"
            + "tracks:[" + trackJS.joined(separator: ",\n") + "],\n"
            + "atomColors:\(strings(atomColors)),stateColors:\(strings(stateColors)),r:\(r1(atomRadius))};\n"
    }

    func r1(_ v: Double) -> String { String(format: "%.1f", v) }

    /// Draws frame `i`: one SVG path per class (circles as two arcs), tracks as one path per state.
    static let script = """
    (function(){
    const $=id=>document.getElementById(id), slider=$('fv-slider'), img=$('fv-img'), label=$('fv-label');
    const ring=(x,y,r)=>`M${x-r},${y}a${r},${r} 0 1 0 ${2*r},0a${r},${r} 0 1 0 ${-2*r},0`;
    function paths(g, byClass, colors){
      g.innerHTML=Object.keys(byClass).map(c=>`<path stroke="${colors[c%colors.length]}" d="${byClass[c].join('')}"/>`).join('');
    }
    function circles(list, r, colors, g){
      const by={}; for(let k=0;k<list.length;k+=3){(by[list[k+2]]=by[list[k+2]]||[]).push(ring(list[k],list[k+1],r));}
      paths(g, by, colors);
    }
    function draw(i){
      const f=FV.n[i]; img.setAttribute('href', FV.img[i]); label.textContent='frame '+f+' ('+(i+1)+' of '+FV.n.length+' shown)';
      circles($('fv-show-atoms').checked?FV.atoms[i]:[], FV.r, FV.atomColors, $('fv-atoms'));
      circles($('fv-show-defects').checked?FV.defects[i]:[], 2.2*FV.r, FV.stateColors, $('fv-defects'));
      const by={};
      if($('fv-show-tracks').checked) for(const t of FV.tracks){
        for(let k=1;k<t.f.length && t.f[k]<=f;k++){
          (by[t.s[k-1]]=by[t.s[k-1]]||[]).push(`M${t.x[k-1]},${t.y[k-1]}L${t.x[k]},${t.y[k]}`);
        }
      }
      paths($('fv-tracks'), by, FV.stateColors);
    }
    let timer=null;
    function step(d){ slider.value=Math.min(Math.max(+slider.value+d,0),FV.n.length-1); draw(+slider.value); }
    slider.addEventListener('input',()=>draw(+slider.value));
    for(const id of ['fv-show-atoms','fv-show-defects','fv-show-tracks']) $(id).addEventListener('change',()=>draw(+slider.value));
    document.addEventListener('keydown',e=>{
      if(e.target.tagName==='INPUT' && e.target.type!=='range' && e.target.type!=='checkbox') return;
      const d={ArrowRight:1,ArrowLeft:-1,PageDown:10,PageUp:-10,Home:-1e9,End:1e9}[e.key];
      if(d!==undefined){ e.preventDefault(); step(d); }
    });
    $('fv-play').addEventListener('click',()=>{
      if(timer){clearInterval(timer);timer=null;$('fv-play').textContent='▶ play';return;}
      $('fv-play').textContent='❚❚ pause';
      timer=setInterval(()=>{ if(+slider.value>=FV.n.length-1) slider.value=-1; step(1); },150);
    });
    // report.html#frame=N opens at movie frame N (or the last shown frame before it).
    const asked=/frame=([0-9]+)/.exec(location.hash), start=asked ? Math.max(0, FV.n.filter(f=>f<=+asked[1]).length-1) : 0;
    slider.value=start; draw(start);
    document.body.setAttribute('data-viewer','ready');
    })();

    """
}

extension FrameViewer {
    /// Longest side of an embedded frame (px); larger frames are box-averaged by an integer factor.
    public static let maxEmbeddedSide = 384

    /// The frames a viewer shows, chosen before any atom is read (so the report reads atoms.csv
    /// once, keeping only these frames' atoms): every frame when the embedded images and overlays
    /// fit `budgetBytes`, else every `stride`-th (estimated from the first frame's encoded size).
    public struct Selection {
        public let frames: Range<Int>
        public let first: Frame
        public let stride: Int
        public var shown: [Int] { Array(Swift.stride(from: frames.lowerBound, to: frames.upperBound, by: stride)) }

        public init(movie: Movie, frames: Range<Int>, atomsPerFrame: Double, budgetBytes: Int, image: ReportImage) throws {
            guard !frames.isEmpty else { throw InputError("report: no frames to show") }
            self.frames = frames
            first = try FrameViewer.encode(movie, frame: frames.lowerBound, image: image)
            let bytesPerFrame = Double(first.imageURL.utf8.count) + 16 * atomsPerFrame
            stride = max(1, Int((Double(frames.count) * bytesPerFrame / Double(max(budgetBytes, 1))).rounded(.up)))
        }
    }

    /// A frame box-averaged to at most `maxEmbeddedSide` px, as a PNG data URL.
    static func encode(_ movie: Movie, frame f: Int, image: ReportImage) throws -> Frame {
        let factor = (max(movie.width, movie.height) + maxEmbeddedSide - 1) / maxEmbeddedSide
        let small = ReportStatistics.downsample(try movie.frame(f).pixels, width: movie.width, height: movie.height, factor: factor)
        return Frame(number: f, imageURL: try image.gray(small.pixels, width: small.width, height: small.height))
    }

    /// A viewer of the selected frames (labels, colours, ring size and scale bar left to the caller).
    /// - Parameters:
    ///   - atoms: the atoms of a shown movie frame number.
    ///   - defects: every defect with its movie frame number and class.
    public static func make(movie: Movie, selection: Selection, atoms: (Int) -> [FrameAtom],
                            defects: [(frame: Int, x: Double, y: Double, c: Int)], tracks: [Track], image: ReportImage) throws -> FrameViewer {
        let shown = selection.shown
        var byFrame: [Int: [(x: Double, y: Double, c: Int)]] = [:]
        for d in defects { byFrame[d.frame, default: []].append((d.x, d.y, d.c)) }
        return FrameViewer(
            frames: try [selection.first] + shown.dropFirst().map { try encode(movie, frame: $0, image: image) },
            width: movie.width, height: movie.height, movieFrames: selection.frames.count, stride: selection.stride,
            atoms: shown.map { f in atoms(f).map { ($0.x, $0.y, $0.classIndex) } },
            defects: shown.map { byFrame[$0] ?? [] }, tracks: tracks,
            atomLabels: [], atomColors: [], stateLabels: [], stateColors: [], atomRadius: 1, scaleBar: nil)
    }
}
