import ArgumentParser
import Foundation
import Pipeline

/// `atomtrack info FILE`: format, frames, size, dtype, value range and calibration.
struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Describe a microscopy image or movie: format, frames, size, dtype, value range, calibration.",
        discussion: """
        Reads TIFF (multi-page, strip or tiled, BigTIFF), PNG (a single file, or a numbered \
        series such as frame_000.png … given one of its files or its directory), NPY (2-D or \
        3-D), DM3 and DM4. Frames are decoded one at a time, so large movies need little memory.

        The value range (min, max, mean over finite pixels) and the count of NaN and Inf pixels \
        are computed over every frame; NaN/Inf are reported, never fixed. Calibration is the \
        pixel size the file states (TIFF resolution or ImageDescription, DM calibration); \
        'Å/pixel' is shown only for square pixels in length units.

        Examples:
          atomtrack info movie.tif
          atomtrack info frames/ --json
        """
    )

    @Argument(help: "The file (or PNG-series directory) to describe.")
    var file: String

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    @Flag(name: .customLong("header-only"), help: "Skip the pixel scan (no value range); only read headers.")
    var headerOnly = false

    @Flag(name: .customLong("single"), help: "Read a numbered .png alone instead of as part of its series.")
    var single = false

    func run() throws {
        try reportingErrors {
            print(try MovieDescription.describe(file, singlePNG: single, scanPixels: !headerOnly, json: json))
        }
    }
}
