import Foundation

extension TrainingPair {
    /// A training pair from one unaugmented frame and its labelled columns (e.g. labels read off a real
    /// frame rather than simulated): the image min–max normalised, each point a disc of `labelRadius`
    /// pixels in its class, background (the last of `classNames`) elsewhere.
    public init(frame: [Float], width: Int, height: Int, classNames: [String], points: [LabelledPoint],
                labelRadius: Double, pixelSize: Double, dose: Double? = nil) {
        var mask = [UInt8](repeating: UInt8(classNames.count - 1), count: width * height)
        TrainingSetGenerator.drawDiscs(&mask, width: width, height: height, points: points, radius: max(1, labelRadius))
        self.init(image: normalised(frame), mask: mask, width: width, height: height, classNames: classNames,
                  points: points, rotation: 0, flipped: false, zoom: 1, pixelSize: pixelSize, dose: dose)
    }
}
