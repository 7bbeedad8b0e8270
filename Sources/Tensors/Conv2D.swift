import CBLAS
import Dispatch

/// Runs `body(i)` for `i in 0..<count`, in parallel when the total work is large enough
/// to pay for the threads (`work` is a rough element count).
@inline(__always)
func parallelFor(_ count: Int, work: Int, _ body: (Int) -> Void) {
    if count > 1 && work >= 1 << 15 {
        // The bodies write disjoint memory; the wrapper only silences the Sendable check.
        withoutActuallyEscaping(body) { escaping in
            let box = UncheckedSendable(value: escaping)
            DispatchQueue.concurrentPerform(iterations: count) { box.value($0) }
        }
    } else {
        for i in 0..<count { body(i) }
    }
}

struct UncheckedSendable<T>: @unchecked Sendable { let value: T }

/// 2-D convolution, stride 1, "same" zero padding (odd square kernels), dilation ≥ 1, with bias.
///
/// Weights are `[Cout, Cin, k, k]` (PyTorch layout). The forward pass and both gradients
/// are im2col/col2im plus one `cblas_sgemm` per image; a 1×1 kernel skips im2col and
/// multiplies the image planes directly.
public enum Conv2D {
    /// Output of the convolution of `input` `[N, Cin, H, W]` with `weight` `[Cout, Cin, k, k]`
    /// and `bias` `[Cout]` (or nil). Shape `[N, Cout, H, W]`.
    public static func forward(_ input: Tensor, weight: Tensor, bias: Tensor?, dilation: Int = 1) -> Tensor {
        let g = Geometry(input: input, weight: weight, dilation: dilation)
        var out = Tensor(shape: [g.n, g.cout, g.h, g.w])
        var col = g.isPointwise ? [] : [Float](repeating: 0, count: g.kdim * g.hw)
        input.data.withUnsafeBufferPointer { x in
        weight.data.withUnsafeBufferPointer { wt in
        out.data.withUnsafeMutableBufferPointer { y in
        col.withUnsafeMutableBufferPointer { colp in
            for i in 0..<g.n {
                let xi = x.baseAddress! + i * g.cin * g.hw
                let yi = y.baseAddress! + i * g.cout * g.hw
                if let bias {
                    for co in 0..<g.cout { (yi + co * g.hw).update(repeating: bias.data[co], count: g.hw) }
                }
                let b: UnsafePointer<Float>
                if g.isPointwise { b = xi } else { im2col(xi, colp.baseAddress!, g); b = UnsafePointer(colp.baseAddress!) }
                // Y[Cout, HW] = W[Cout, K] · col[K, HW] (+ bias already in Y)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(g.cout), Int32(g.hw), Int32(g.kdim),
                            1, wt.baseAddress, Int32(g.kdim), b, Int32(g.hw), bias == nil ? 0 : 1, yi, Int32(g.hw))
            }
        }}}}
        return out
    }

    /// Gradients of a convolution given the upstream gradient `gradOutput` `[N, Cout, H, W]`.
    /// Returns the input gradient (if `needInputGrad`), the weight gradient and the bias gradient.
    public static func backward(_ input: Tensor, weight: Tensor, gradOutput: Tensor, dilation: Int = 1,
                                needInputGrad: Bool = true) -> (input: Tensor?, weight: Tensor, bias: Tensor) {
        let g = Geometry(input: input, weight: weight, dilation: dilation)
        precondition(gradOutput.shape == [g.n, g.cout, g.h, g.w], "conv backward: gradient shape \(gradOutput.shape)")
        var dW = Tensor(shape: weight.shape)
        var dB = Tensor(shape: [g.cout])
        var dXdata = needInputGrad ? [Float](repeating: 0, count: input.count) : []
        var col = g.isPointwise ? [] : [Float](repeating: 0, count: g.kdim * g.hw)
        var dcol = (g.isPointwise || !needInputGrad) ? [] : [Float](repeating: 0, count: g.kdim * g.hw)
        input.data.withUnsafeBufferPointer { x in
        weight.data.withUnsafeBufferPointer { wt in
        gradOutput.data.withUnsafeBufferPointer { dy in
        dW.data.withUnsafeMutableBufferPointer { dw in
        dB.data.withUnsafeMutableBufferPointer { db in
        dXdata.withUnsafeMutableBufferPointer { dx in
        col.withUnsafeMutableBufferPointer { colp in
        dcol.withUnsafeMutableBufferPointer { dcolp in
            for i in 0..<g.n {
                let xi = x.baseAddress! + i * g.cin * g.hw
                let dyi = dy.baseAddress! + i * g.cout * g.hw
                for co in 0..<g.cout {
                    var s: Float = 0
                    let row = dyi + co * g.hw
                    for j in 0..<g.hw { s += row[j] }
                    db[co] += s
                }
                let b: UnsafePointer<Float>
                if g.isPointwise { b = xi } else { im2col(xi, colp.baseAddress!, g); b = UnsafePointer(colp.baseAddress!) }
                // dW[Cout, K] += dY[Cout, HW] · col[K, HW]ᵀ
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(g.cout), Int32(g.kdim), Int32(g.hw),
                            1, dyi, Int32(g.hw), b, Int32(g.hw), 1, dw.baseAddress, Int32(g.kdim))
                guard needInputGrad else { continue }
                let dxi = dx.baseAddress! + i * g.cin * g.hw
                // dcol[K, HW] = W[Cout, K]ᵀ · dY[Cout, HW]; a 1×1 kernel writes dX directly.
                let target = g.isPointwise ? dxi : dcolp.baseAddress!
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(g.kdim), Int32(g.hw), Int32(g.cout),
                            1, wt.baseAddress, Int32(g.kdim), dyi, Int32(g.hw), 0, target, Int32(g.hw))
                if !g.isPointwise { col2im(UnsafePointer(dcolp.baseAddress!), dxi, g) }
            }
        }}}}}}}}
        let dX = needInputGrad ? Tensor(uncheckedShape: input.shape, data: dXdata) : nil
        return (dX, dW, dB)
    }

    /// Multiply–adds of one forward pass (×2 = FLOPs); backward costs twice this.
    public static func macs(inputShape s: [Int], weightShape w: [Int]) -> Int {
        s[0] * s[2] * s[3] * w[0] * w[1] * w[2] * w[3]
    }

    /// Sizes shared by the kernels of one convolution.
    struct Geometry {
        let n, cin, h, w, hw, cout, k, dilation, pad, kdim: Int
        var isPointwise: Bool { k == 1 }

        init(input: Tensor, weight: Tensor, dilation: Int) {
            let (n, c, h, w) = input.nchw
            precondition(weight.rank == 4 && weight.shape[1] == c && weight.shape[2] == weight.shape[3]
                         && weight.shape[2] % 2 == 1, "conv: weight \(weight.shape) does not fit input \(input.shape)")
            precondition(dilation >= 1, "conv: dilation must be ≥ 1")
            self.n = n; self.cin = c; self.h = h; self.w = w; self.hw = h * w
            self.cout = weight.shape[0]; self.k = weight.shape[2]; self.dilation = dilation
            self.pad = dilation * (k - 1) / 2
            self.kdim = c * k * k
        }
    }

    /// col[(c, ky, kx), (y, x)] = x[c, y + ky·d − p, x + kx·d − p] (0 outside). Parallel over channels.
    static func im2col(_ x: UnsafePointer<Float>, _ col: UnsafeMutablePointer<Float>, _ g: Geometry) {
        parallelFor(g.cin, work: g.kdim * g.hw) { c in
            let plane = x + c * g.hw
            for ky in 0..<g.k {
                let dy = ky * g.dilation - g.pad
                for kx in 0..<g.k {
                    let dx = kx * g.dilation - g.pad
                    let row = col + ((c * g.k + ky) * g.k + kx) * g.hw
                    let x0 = max(0, -dx), x1 = min(g.w, g.w - dx)
                    for y in 0..<g.h {
                        let dst = row + y * g.w
                        let sy = y + dy
                        guard sy >= 0 && sy < g.h && x1 > x0 else { dst.update(repeating: 0, count: g.w); continue }
                        if x0 > 0 { dst.update(repeating: 0, count: x0) }
                        (dst + x0).update(from: plane + sy * g.w + x0 + dx, count: x1 - x0)
                        if x1 < g.w { (dst + x1).update(repeating: 0, count: g.w - x1) }
                    }
                }
            }
        }
    }

    /// The adjoint of `im2col`: dx[c, y + dy, x + dx] += dcol[(c, ky, kx), (y, x)]. Parallel over channels.
    static func col2im(_ dcol: UnsafePointer<Float>, _ dxImage: UnsafeMutablePointer<Float>, _ g: Geometry) {
        parallelFor(g.cin, work: g.kdim * g.hw) { c in
            let plane = dxImage + c * g.hw
            for ky in 0..<g.k {
                let dy = ky * g.dilation - g.pad
                for kx in 0..<g.k {
                    let dx = kx * g.dilation - g.pad
                    let row = dcol + ((c * g.k + ky) * g.k + kx) * g.hw
                    let x0 = max(0, -dx), x1 = min(g.w, g.w - dx)
                    guard x1 > x0 else { continue }
                    for y in 0..<g.h {
                        let sy = y + dy
                        guard sy >= 0 && sy < g.h else { continue }
                        let src = row + y * g.w
                        let dst = plane + sy * g.w + dx
                        for x in x0..<x1 { dst[x] += src[x] }
                    }
                }
            }
        }
    }
}
