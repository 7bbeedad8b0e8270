// libFuzzer harness for the MicroscopyIO readers (built by scripts/fuzz/run.sh).
// The fuzz input is written to a temp file with the extension of the reader under test
// (the readers take a URL; there is no in-memory decode API), then opened and every
// frame decoded. Any thrown error is fine; a crash, trap or sanitizer report is a finding.
import Foundation
import MicroscopyIO

#if FUZZ_TIFF
let fuzzExtension = "tif"
#elseif FUZZ_PNG
let fuzzExtension = "png"
#elseif FUZZ_NPY
let fuzzExtension = "npy"
#elseif FUZZ_DM4
let fuzzExtension = "dm4"
#elseif FUZZ_MRC
let fuzzExtension = "mrc"
#elseif FUZZ_SER
let fuzzExtension = "ser"
#elseif FUZZ_NDATA
let fuzzExtension = "ndata"
#elseif FUZZ_EMD
let fuzzExtension = "emd"
#elseif FUZZ_H5
let fuzzExtension = "h5"
#else
let fuzzExtension = "dm3"
#endif

/// One scratch file per process (libFuzzer runs inputs sequentially).
let scratch = URL(fileURLWithPath: NSTemporaryDirectory())
    .appendingPathComponent("atomtrack-fuzz-\(getpid()).\(fuzzExtension)")

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let data = Data(bytes: bytes, count: count)
    guard (try? data.write(to: scratch)) != nil else { return 0 }
    guard let movie = try? Movie.open(scratch) else { return 0 }
    // Decode at most 8 frames (first and last included) so one input stays fast.
    let n = movie.frameCount
    let picks = n <= 8 ? Array(0..<n) : Array(0..<4) + Array((n - 4)..<n)
    // Both paths: the whole frame and `info`'s band-by-band scan (TIFF scanlines, mapped rows).
    for k in picks {
        _ = try? movie.frame(k)
        try? movie.forEachBand(ofFrame: k) { _ in }
    }
    return 0
}
