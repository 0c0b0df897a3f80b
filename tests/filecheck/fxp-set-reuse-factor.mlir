// Dense layers and the row-foldable ops (here a MatMul of two activations) take the configured
// reuse factor; a matmul's is absent until then.
// RUN: rtlflow opt %s -p fxp-set-reuse-factor --reuse-factor 4 | filecheck %s
// RUN: rtlflow opt %s -p fxp-set-reuse-factor | filecheck %s --check-prefix=DEFAULT

builtin.module {
  func.func @tiny(%x: tensor<1x2x!fxp.fixed<8, 3>>, %a: tensor<4x2x!fxp.fixed<8, 3>>) -> (tensor<1x2x!fxp.fixed<8, 3>>, tensor<4x4x!fxp.fixed<16, 6>>) attributes {onnx.inputs = ["x", "a"], onnx.outputs = ["y", "z"]} {
    %y = fxp.dense %x {node = "fc", weight = dense<[[16, -8], [32, 24]]> : tensor<2x2xi64>, weight_type = !fxp.fixed<8, 3>, bias = dense<[4, -32]> : tensor<2xi64>, bias_type = !fxp.fixed<8, 3>, accumulator = !fxp.fixed<14, 4>, reuse_factor = 1 : i64} : tensor<1x2x!fxp.fixed<8, 3>> -> tensor<1x2x!fxp.fixed<8, 3>>
    %t = fxp.transpose %a {node = "t", perm = array<i64: 1, 0>} : tensor<4x2x!fxp.fixed<8, 3>> -> tensor<2x4x!fxp.fixed<8, 3>>
    %z = fxp.matmul %a, %t {node = "mm"} : tensor<4x2x!fxp.fixed<8, 3>>, tensor<2x4x!fxp.fixed<8, 3>> -> tensor<4x4x!fxp.fixed<16, 6>>
    func.return %y, %z : tensor<1x2x!fxp.fixed<8, 3>>, tensor<4x4x!fxp.fixed<16, 6>>
  }
}

// CHECK:     fxp.dense %x {{.*}}reuse_factor = 4 : i64
// CHECK:     fxp.matmul %a, %t {node = "mm", reuse_factor = 4 : i64}
// DEFAULT:   fxp.dense %x {{.*}}reuse_factor = 1 : i64
// DEFAULT:   fxp.matmul %a, %t {node = "mm", reuse_factor = 1 : i64}
