// --conv-style stream: a convolution fed by a design input, and the layers after it that can
// work on a pixel stream, stream; by default (a small layer) everything stays parallel.
// RUN: rtlflow opt %s -p fxp-set-conv-style --conv-style stream | filecheck %s
// RUN: rtlflow opt %s -p fxp-set-conv-style | filecheck %s --check-prefix=DEFAULT

builtin.module {
  func.func @tiny(%x: tensor<1x1x4x4x!fxp.fixed<8, 3>>) -> tensor<1x2x1x1x!fxp.fixed<8, 3>> attributes {onnx.inputs = ["x"], onnx.outputs = ["y"]} {
    %c = fxp.conv %x {node = "conv", weight = dense<[[[[1, -2, 3], [0, 1, 0], [2, 0, -1]]], [[[0, 0, 1], [1, 1, 1], [-3, 2, 0]]]]> : tensor<2x1x3x3xi64>, weight_type = !fxp.fixed<4, 1>, bias = dense<[1, -1]> : tensor<2xi64>, bias_type = !fxp.fixed<4, 1>, accumulator = !fxp.fixed<20, 8>, group = 1 : i64, style = "parallel", kernel = array<i64: 3, 3>, strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>} : tensor<1x1x4x4x!fxp.fixed<8, 3>> -> tensor<1x2x2x2x!fxp.fixed<8, 3>>
    %r = fxp.relu %c {node = "act"} : tensor<1x2x2x2x!fxp.fixed<8, 3>> -> tensor<1x2x2x2x!fxp.fixed<8, 3>>
    %y = fxp.pool %r {node = "pool", kind = "max", scale = dense<1> : tensor<1xi64>, scale_type = !fxp.fixed<2, 1, unsigned, RND, WRAP>, style = "parallel", kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>} : tensor<1x2x2x2x!fxp.fixed<8, 3>> -> tensor<1x2x1x1x!fxp.fixed<8, 3>>
    func.return %y : tensor<1x2x1x1x!fxp.fixed<8, 3>>
  }
}

// CHECK:     fxp.conv %x {{.*}}style = "stream"
// CHECK:     fxp.pool %r {{.*}}style = "stream"
// DEFAULT:   fxp.conv %x {{.*}}style = "parallel"
// DEFAULT:   fxp.pool %r {{.*}}style = "parallel"
