// libFuzzer harness for the safetensors loader (Networks.SafeTensors.decode).
// Any thrown error is fine; a crash, trap or sanitizer report is a finding.
import Foundation
import Networks

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let data = Data(bytes: bytes, count: count)
    if let (tensors, _) = try? SafeTensors.decode(data, source: "fuzz") {
        // Touch every decoded value so a tensor whose storage is shorter than its shape shows up.
        var sum: Float = 0
        for t in tensors.values { precondition(t.shape.reduce(1, *) == t.data.count, "shape does not match storage")
        for v in t.data { sum += v } }
        blackHole(sum)
    }
    return 0
}

@inline(never) func blackHole(_ x: Float) { if x.bitPattern == 0x7fc0_0001 { print("") } }
