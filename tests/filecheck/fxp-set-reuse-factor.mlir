// Dense layers, convolutions and the row-foldable ops (here a MatMul of two activations) take the
// configured reuse factor; a conv's and a matmul's are absent until then.
// RUN: rtlflow opt %s -p fxp-set-reuse-factor --reuse-factor 4 | filecheck %s
// RUN: rtlflow opt %s -p fxp-set-reuse-factor | filecheck %s --check-prefix=DEFAULT

builtin.module {
  func.func @tiny(%x: tensor<1x2x!fxp.fixed<8, 3>>, %a: tensor<4x2x!fxp.fixed<8, 3>>, %i: tensor<1x1x4x4x!fxp.fixed<8, 3>>) -> (tensor<1x2x!fxp.fixed<8, 3>>, tensor<4x4x!fxp.fixed<16, 6>>, tensor<1x2x2x2x!fxp.fixed<8, 3>>) attributes {onnx.inputs = ["x", "a", "i"], onnx.outputs = ["y", "z", "c"]} {
    %y = fxp.dense %x {node = "fc", weight = dense<[[16, -8], [32, 24]]> : tensor<2x2xi64>, weight_type = !fxp.fixed<8, 3>, bias = dense<[4, -32]> : tensor<2xi64>, bias_type = !fxp.fixed<8, 3>, accumulator = !fxp.fixed<14, 4>, reuse_factor = 1 : i64} : tensor<1x2x!fxp.fixed<8, 3>> -> tensor<1x2x!fxp.fixed<8, 3>>
    %t = fxp.transpose %a {node = "t", perm = array<i64: 1, 0>} : tensor<4x2x!fxp.fixed<8, 3>> -> tensor<2x4x!fxp.fixed<8, 3>>
    %z = fxp.matmul %a, %t {node = "mm"} : tensor<4x2x!fxp.fixed<8, 3>>, tensor<2x4x!fxp.fixed<8, 3>> -> tensor<4x4x!fxp.fixed<16, 6>>
    %c = fxp.conv %i {node = "conv", weight = dense<[[[[1, -2, 3], [0, 1, 0], [2, 0, -1]]], [[[0, 0, 1], [1, 1, 1], [-3, 2, 0]]]]> : tensor<2x1x3x3xi64>, weight_type = !fxp.fixed<4, 1>, bias = dense<[1, -1]> : tensor<2xi64>, bias_type = !fxp.fixed<4, 1>, accumulator = !fxp.fixed<20, 8>, group = 1 : i64, style = "parallel", kernel = array<i64: 3, 3>, strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>} : tensor<1x1x4x4x!fxp.fixed<8, 3>> -> tensor<1x2x2x2x!fxp.fixed<8, 3>>
    func.return %y, %z, %c : tensor<1x2x!fxp.fixed<8, 3>>, tensor<4x4x!fxp.fixed<16, 6>>, tensor<1x2x2x2x!fxp.fixed<8, 3>>
  }
}

// CHECK:     fxp.dense %x {{.*}}reuse_factor = 4 : i64
// CHECK:     fxp.matmul %a, %t {node = "mm", reuse_factor = 4 : i64}
// CHECK:     fxp.conv %i {{.*}}reuse_factor = 4 : i64
// DEFAULT:   fxp.dense %x {{.*}}reuse_factor = 1 : i64
// DEFAULT:   fxp.matmul %a, %t {node = "mm", reuse_factor = 1 : i64}
// DEFAULT:   fxp.conv %i {{.*}}reuse_factor = 1 : i64
