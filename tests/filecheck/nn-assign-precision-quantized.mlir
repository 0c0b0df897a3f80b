// nn-assign-precision on a quantization-aware model: the input takes its quantizer's format
// (scale 2^-2, levels -32 .. 31: fixed<6,4>, round half to even, saturating), every result not
// configured is exact.
// RUN: rtlflow opt %s -p nn-assign-precision | filecheck %s --check-prefix=QUANT

builtin.module {
  func.func @quantized(%x: tensor<1x2xf32>) -> tensor<1x2xf32> attributes {onnx.inputs = ["x"], onnx.outputs = ["y"]} {
    %q = nn.quant %x {node = "q", scale = dense<2.500000e-01> : tensor<f32>, zero_point = dense<0.000000e+00> : tensor<f32>, low = -32 : i64, high = 31 : i64, rounding = "ROUND"} : tensor<1x2xf32> -> tensor<1x2xf32>
    %y = nn.dense %q {node = "fc", weight = dense<[[0.5, -0.25], [1.0, 0.75]]> : tensor<2x2xf32>, bias = dense<[0.125, -1.0]> : tensor<2xf32>} : tensor<1x2xf32> -> tensor<1x2xf32>
    func.return %y : tensor<1x2xf32>
  }
}

// QUANT:      func.func @quantized
// QUANT-SAME: fxp.inputs = [!fxp.fixed<6, 4, RND_CONV, SAT>]
// QUANT-NEXT: nn.quant %x {fxp.layer = {result = !fxp.fixed<16, 6>, precision = "exact"}, node = "q"
// QUANT-NEXT: nn.dense %q {fxp.layer = {result = !fxp.fixed<16, 6>, precision = "exact"}, node = "fc"
