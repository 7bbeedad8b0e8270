/// What to do with a window that reaches past the image border.
public enum BorderPolicy: Sendable, Equatable {
    /// Drop the window and count it in `CropSet.skipped`.
    case skip
    /// Keep it; samples outside the image take this value.
    case pad(Float)
}

/// A point to crop around, in pixels (origin at the centre of the top-left pixel).
public struct CropCentre: Sendable, Equatable {
    public var x: Double
    public var y: Double
    public init(x: Double, y: Double) { self.x = x; self.y = y }
}

/// Square crops, each `channels × size × size` (channel-major, rows = y), in `crops`;
/// `sourceIndices[i]` is the index of the centre crop `i` came from.
public struct CropSet: Sendable {
    public let size: Int
    public let channels: Int
    public var crops: [[Float]]
    public var sourceIndices: [Int]
    /// Indices of centres whose window crossed the border and was skipped.
    public var skippedIndices: [Int]
    public var skipped: Int { skippedIndices.count }
}

/// Crops square windows centred (with sub-pixel precision, bilinear sampling) on points of an
/// image or a multi-channel probability map.
public enum CropExtractor {
    /// - Parameters:
    ///   - image: `channels × height × width` values, row-major per channel.
    ///   - size: window side in pixels; the window centre is the point itself, so pixel (i, j)
    ///     of the crop samples (x + j − (size−1)/2, y + i − (size−1)/2).
    public static func crops(image: [Float], width: Int, height: Int, channels: Int = 1,
                             centres: [CropCentre], size: Int, border: BorderPolicy) throws -> CropSet {
        guard width > 0, height > 0, channels > 0, image.count == width * height * channels else {
            throw DefectLibraryError.shapeMismatch("\(image.count) values for \(channels)×\(height)×\(width)")
        }
        guard size >= 1 else { throw DefectLibraryError.invalidParameter("crop size must be ≥ 1, got \(size)") }
        var set = CropSet(size: size, channels: channels, crops: [], sourceIndices: [], skippedIndices: [])
        let half = Double(size - 1) / 2
        for (index, c) in centres.enumerated() {
            guard c.x.isFinite, c.y.isFinite else { set.skippedIndices.append(index); continue }
            let x0 = c.x - half, y0 = c.y - half
            let inside = x0 >= 0 && y0 >= 0 && x0 + Double(size - 1) <= Double(width - 1)
                && y0 + Double(size - 1) <= Double(height - 1)
            if !inside, border == .skip { set.skippedIndices.append(index); continue }
            let padValue: Float = if case .pad(let v) = border { v } else { 0 }
            var crop = [Float](repeating: 0, count: channels * size * size)
            for ch in 0..<channels {
                let base = ch * width * height
                for i in 0..<size {
                    for j in 0..<size {
                        crop[(ch * size + i) * size + j] = bilinear(image, base, width, height,
                                                                    x0 + Double(j), y0 + Double(i), padValue)
                    }
                }
            }
            set.crops.append(crop)
            set.sourceIndices.append(index)
        }
        return set
    }

    /// Bilinear sample at (x, y); neighbours outside the image read as `pad`.
    @inline(__always)
    static func bilinear(_ img: [Float], _ base: Int, _ w: Int, _ h: Int, _ x: Double, _ y: Double,
                         _ pad: Float) -> Float {
        let fx = x.rounded(.down), fy = y.rounded(.down)
        let ix = Int(fx), iy = Int(fy)
        let tx = Float(x - fx), ty = Float(y - fy)
        func at(_ px: Int, _ py: Int) -> Float {
            px >= 0 && py >= 0 && px < w && py < h ? img[base + py * w + px] : pad
        }
        let top = at(ix, iy) * (1 - tx) + (tx > 0 ? at(ix + 1, iy) * tx : 0)
        let bottom = ty > 0 ? at(ix, iy + 1) * (1 - tx) + (tx > 0 ? at(ix + 1, iy + 1) * tx : 0) : 0
        return top * (1 - ty) + bottom * ty
    }
}
