// dense -> relu -> saturating cast to a signed format: the layer itself produces the unsigned
// half of that format (one bit less, saturating, its rounding) and an exact cast restores the
// signed type for the reader.
// RUN: rtlflow opt %s -p fxp-fuse-activation | filecheck %s

builtin.module {
  func.func @tiny(%x: tensor<1x2x!fxp.fixed<4, 2>>) -> tensor<1x2x!fxp.fixed<4, 2, RND_CONV, SAT>> attributes {onnx.inputs = ["x"], onnx.outputs = ["y"]} {
    %d = fxp.dense %x {node = "fc", weight = dense<[[3, -2], [1, 4]]> : tensor<2x2xi64>, weight_type = !fxp.fixed<4, 1>, bias = dense<[1, -1]> : tensor<2xi64>, bias_type = !fxp.fixed<4, 1>, accumulator = !fxp.fixed<10, 5>, reuse_factor = 1 : i64} : tensor<1x2x!fxp.fixed<4, 2>> -> tensor<1x2x!fxp.fixed<10, 5>>
    %r = fxp.relu %d {node = "act"} : tensor<1x2x!fxp.fixed<10, 5>> -> tensor<1x2x!fxp.fixed<10, 5>>
    %y = fxp.cast %r {node = "quant"} : tensor<1x2x!fxp.fixed<10, 5>> -> tensor<1x2x!fxp.fixed<4, 2, RND_CONV, SAT>>
    func.return %y : tensor<1x2x!fxp.fixed<4, 2, RND_CONV, SAT>>
  }
}

// CHECK:      %[[D:.*]] = fxp.dense %x {fxp.quantized, node = "fc"
// CHECK-SAME: -> tensor<1x2x!fxp.fixed<3, 1, unsigned, RND_CONV, SAT>>
// CHECK-NOT:  fxp.relu
// CHECK-NEXT: %[[C:.*]] = fxp.cast %[[D]] {{.*}} -> tensor<1x2x!fxp.fixed<4, 2, RND_CONV, SAT>>
// CHECK-NEXT: func.return %[[C]]
