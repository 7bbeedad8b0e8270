import ArgumentParser
import Foundation
import Pipeline

/// `atomtrack convert IN OUT`: between TIFF, PNG, NPY (and from DM3/DM4).
struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert an image or movie between TIFF, PNG and NPY (DM3/DM4, EMD, Nion, TIA, MRC as input).",
        discussion: """
        The output format follows OUT's extension:
          .tif/.tiff  multi-page TIFF; keeps the source dtype unless --dtype; stores the pixel \
        size (XResolution in pixels/cm and ImageDescription {"pixel_size_A": …}) when known.
          .npy        2-D (height, width) for one frame, else 3-D (frames, height, width).
          .png        grayscale; several frames become OUT_000.png, OUT_001.png, …

        PNG scaling (floats and wide integers must become 8- or 16-bit integers):
          --scale none       values are rounded and must already fit 0…255 (0…65535);
          --scale minmax     the minimum over all converted frames maps to 0, the maximum to \
        255 (65535), linearly;
          --scale LOW:HIGH   LOW maps to 0 and HIGH to 255 (65535), values outside are clamped.
        Default: none for uint8/uint16 sources, minmax otherwise. Default bit depth: 8 for \
        8-bit sources, 16 otherwise. NaN/Inf pixels cannot be written to PNG or integer dtypes \
        (an error, never silently replaced).

        Frames pass through Float32 (integers beyond ±2^24 are rounded), except into a float64 \
        TIFF/NPY, which gets float64 values unrounded (1e300 stays 1e300). \
        Every output is written to a temporary file and renamed; on error nothing is left. An \
        existing output is refused unless --overwrite is given.

        Examples:
          atomtrack convert stack.dm4 stack.tif
          atomtrack convert movie.tif frames/frame.png --scale minmax --bits 8
          atomtrack convert probs.npy probs.tif --dtype float32 --compression deflate
        """
    )

    @Argument(help: "Input file or PNG-series directory (.tif, .tiff, .png, .npy, .dm3, .dm4, .emd, .h5, .ndata, .ser, .mrc).")
    var input: String

    @Argument(help: "Output file (.tif, .tiff, .npy or .png).")
    var output: String

    @Option(help: "Output dtype for TIFF/NPY: \(Conversion.dtypes).")
    var dtype: String?

    @Option(help: "PNG bits per sample: 8 or 16.")
    var bits: Int?

    @Option(help: "PNG scaling: none, minmax, or LOW:HIGH (see above).")
    var scale: String?

    @Option(help: "TIFF compression: none or deflate.")
    var compression: String = "none"

    @Flag(help: "Write BigTIFF (64-bit offsets, for outputs beyond 4 GiB).")
    var bigtiff = false

    @Option(help: "Frames to convert as START:END (END exclusive, from 0), e.g. 0:100.")
    var frames: String?

    @Flag(name: .customLong("single"), help: "Read a numbered .png input alone instead of as part of its series.")
    var single = false

    @OptionGroup var signal: SignalOption

    @Flag(help: "Replace existing output files.")
    var overwrite = false

    var conversion: Conversion {
        var c = Conversion(input: input, output: output)
        c.dtype = dtype; c.bits = bits; c.scale = scale; c.compression = compression; c.bigTIFF = bigtiff
        c.frames = frames; c.singlePNG = single; c.signal = signal.signal; c.overwrite = overwrite
        return c
    }

    /// A malformed option is a usage error (with the usage line), as before the run.
    func validate() throws {
        do { _ = try conversion.options() } catch { throw ValidationError("\(error)") }
    }

    func run() throws {
        try reportingErrors {
            let written = try conversion.run()
            let shown = written.count == 1 ? written[0].path : "\(written[0].path) … \(written[written.count - 1].path) (\(written.count) files)"
            print("wrote \(shown)")
        }
    }
}
