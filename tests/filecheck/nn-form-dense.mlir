// A MatMul by a constant becomes a dense layer whose weight is the transposed constant
// (y = x @ W  ->  y = x @ weight.T + 0); the constant stays for dce.
// RUN: rtlflow opt %s -p nn-form-dense | filecheck %s

builtin.module {
  func.func @tiny(%x: tensor<1x3xf32>) -> tensor<1x2xf32> attributes {onnx.inputs = ["x"], onnx.outputs = ["y"]} {
    %w = nn.constant {value = dense<[[0.5, -0.25], [1.0, 0.75], [-1.5, 0.125]]> : tensor<3x2xf32>, node = "mm"} : tensor<3x2xf32>
    %y = nn.matmul %x, %w {node = "mm"} : tensor<1x3xf32>, tensor<3x2xf32> -> tensor<1x2xf32>
    func.return %y : tensor<1x2xf32>
  }
}

// CHECK:      %[[DENSE:.*]] = nn.dense %x {node = "mm", weight = dense<{{\[\[}}5.000000e-01, 1.000000e+00, -1.500000e+00], [-2.500000e-01, 7.500000e-01, 1.250000e-01]]> : tensor<2x3xf32>, bias = dense<0.000000e+00> : tensor<2xf32>} : tensor<1x3xf32> -> tensor<1x2xf32>
// CHECK-NOT:  nn.matmul
// CHECK:      func.return %[[DENSE]]
