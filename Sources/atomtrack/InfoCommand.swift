import ArgumentParser
import Foundation
import Pipeline

/// `atomtrack info FILE`: format, frames, size, dtype, value range, calibration and frame time.
struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Describe a microscopy image or movie: format, frames, size, dtype, value range, calibration, frame time.",
        discussion: """
        Reads TIFF (multi-page, strip or tiled, BigTIFF; OME-TIFF and ImageJ hyperstack \
        calibration and frame interval), PNG (a single file, or a numbered series such as \
        frame_000.png … given one of its files or its directory), NPY (2-D or 3-D), DM3 and DM4, \
        Velox EMD (.emd), Berkeley EMD (.emd/.h5), Nion Swift (.ndata, .h5), TIA (.ser, with its \
        .emi) and MRC 2014 (.mrc, FEI and Direct Electron metadata). Frames are decoded one at a \
        time, so large movies need little memory; a TIFF page is scanned in bands of rows or tiles.

        The value range (min, max, mean over finite pixels) and the count of NaN and Inf pixels \
        are computed over every frame; NaN/Inf are reported, never fixed. Calibration is the \
        pixel size the file states; 'Å/pixel' is shown only for square pixels in length units. \
        The frame time is shown with the metadata key it came from (e.g. Scan.FrameTime); \
        analyze and track use it for D in Å²/s unless --frame-time overrides it.

        A Velox file can hold several detectors (HAADF, BF, DF4 …) and a Berkeley EMD several \
        groups: 'signals' lists them, HAADF (else the largest image) is read by default, and \
        --signal picks another (also for convert, locate and analyze).

        Examples:
          atomtrack info movie.tif
          atomtrack info session.emd --signal DF4
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

    @OptionGroup var signal: SignalOption

    func run() throws {
        try reportingErrors {
            print(try MovieDescription.describe(file, singlePNG: single, signal: signal.signal, scanPixels: !headerOnly, json: json))
        }
    }
}
