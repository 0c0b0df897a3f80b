// Formats as assigned: at fixed<8,3> (5 fractional bits) a weight w becomes the raw integer
// w * 2^5 (rounded to nearest: constants without a format of their own round); the accumulator
// is exact; inputs and results take the precision. Without an
// assignment, everything takes the default precision, fixed<16,6>.
// RUN: rtlflow opt %s -p nn-assign-precision,convert-nn-to-fxp --precision "fixed<8,3>" | filecheck %s
// RUN: rtlflow opt %s -p convert-nn-to-fxp | filecheck %s --check-prefix=DEFAULT

builtin.module {
  func.func @tiny(%x: tensor<1x2xf32>) -> tensor<1x2xf32> attributes {onnx.inputs = ["x"], onnx.outputs = ["y"]} {
    %d = nn.dense %x {node = "fc", weight = dense<[[0.5, -0.25], [1.0, 0.75]]> : tensor<2x2xf32>, bias = dense<[0.125, -1.0]> : tensor<2xf32>} : tensor<1x2xf32> -> tensor<1x2xf32>
    %y = nn.relu %d {node = "act"} : tensor<1x2xf32> -> tensor<1x2xf32>
    func.return %y : tensor<1x2xf32>
  }
}

// CHECK:      func.func @tiny(%x: tensor<1x2x!fxp.fixed<8, 3>>) -> tensor<1x2x!fxp.fixed<8, 3>>
// CHECK-NEXT: %[[D:.*]] = fxp.dense %x {node = "fc", weight = dense<{{\[\[}}16, -8], [32, 24]]> : tensor<2x2xi64>, weight_type = !fxp.fixed<8, 3, RND, WRAP>, bias = dense<[4, -32]> : tensor<2xi64>, bias_type = !fxp.fixed<8, 3, RND, WRAP>, accumulator = !fxp.fixed<{{[0-9]+}}, {{[0-9]+}}>, reuse_factor = 1 : i64}
// CHECK-SAME: -> tensor<1x2x!fxp.fixed<8, 3>>
// CHECK-NEXT: %[[R:.*]] = fxp.relu %[[D]] {node = "act"} : tensor<1x2x!fxp.fixed<8, 3>> -> tensor<1x2x!fxp.fixed<8, 3>>
// CHECK-NEXT: func.return %[[R]]

// DEFAULT:      func.func @tiny(%x: tensor<1x2x!fxp.fixed<16, 6>>) -> tensor<1x2x!fxp.fixed<16, 6>>
// DEFAULT-NEXT: fxp.dense %x {node = "fc", weight = dense<{{\[\[}}512, -256], [1024, 768]]> : tensor<2x2xi64>, weight_type = !fxp.fixed<16, 6, RND, WRAP>
