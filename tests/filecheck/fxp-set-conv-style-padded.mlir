// --conv-style stream: a padded convolution streams as an fxp.pad of its input (on the stream,
// its border's zero beats) and the convolution unpadded over it; parallel, it keeps its pads.
// RUN: rtlflow opt %s -p fxp-set-conv-style --conv-style stream | filecheck %s
// RUN: rtlflow opt %s -p fxp-set-conv-style | filecheck %s --check-prefix=DEFAULT

builtin.module {
  func.func @same(%x: tensor<1x1x4x4x!fxp.fixed<8, 3>>) -> tensor<1x2x4x4x!fxp.fixed<8, 3>> attributes {onnx.inputs = ["x"], onnx.outputs = ["y"]} {
    %y = fxp.conv %x {node = "conv", weight = dense<[[[[1, -2, 3], [0, 1, 0], [2, 0, -1]]], [[[0, 0, 1], [1, 1, 1], [-3, 2, 0]]]]> : tensor<2x1x3x3xi64>, weight_type = !fxp.fixed<4, 1>, bias = dense<[1, -1]> : tensor<2xi64>, bias_type = !fxp.fixed<4, 1>, accumulator = !fxp.fixed<20, 8>, group = 1 : i64, style = "parallel", kernel = array<i64: 3, 3>, strides = array<i64: 1, 1>, pads = array<i64: 1, 2, 1, 0>, dilations = array<i64: 1, 1>} : tensor<1x1x4x4x!fxp.fixed<8, 3>> -> tensor<1x2x4x4x!fxp.fixed<8, 3>>
    func.return %y : tensor<1x2x4x4x!fxp.fixed<8, 3>>
  }
}

// CHECK:      %[[PAD:.*]] = fxp.pad %x {node = "conv", pads = array<i64: 0, 0, 1, 2, 0, 0, 1, 0>} : tensor<1x1x4x4x!fxp.fixed<8, 3>> -> tensor<1x1x6x6x!fxp.fixed<8, 3>>
// CHECK-NEXT: fxp.conv %[[PAD]] {{.*}}style = "stream"{{.*}}pads = array<i64: 0, 0, 0, 0>{{.*}} : tensor<1x1x6x6x!fxp.fixed<8, 3>> -> tensor<1x2x4x4x!fxp.fixed<8, 3>>
// DEFAULT-NOT: fxp.pad
// DEFAULT:     fxp.conv %x {{.*}}style = "parallel"{{.*}}pads = array<i64: 1, 2, 1, 0>
