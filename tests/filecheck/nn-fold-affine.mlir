// A constant Mul and Add after a dense layer (one constant per feature) fold into its weights
// and bias: y = (x @ W.T + b) * s + t  ->  weight W * s (per row), bias b * s + t.
// RUN: rtlflow opt %s -p nn-fold-affine,dce | filecheck %s

builtin.module {
  func.func @tiny(%x: tensor<1x2xf32>) -> tensor<1x2xf32> attributes {onnx.inputs = ["x"], onnx.outputs = ["y"]} {
    %d = nn.dense %x {node = "fc", weight = dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>, bias = dense<[0.5, -0.5]> : tensor<2xf32>} : tensor<1x2xf32> -> tensor<1x2xf32>
    %s = nn.constant {value = dense<[2.0, 0.5]> : tensor<2xf32>, node = "scale"} : tensor<2xf32>
    %m = nn.mul %d, %s {node = "scale"} : tensor<1x2xf32>, tensor<2xf32> -> tensor<1x2xf32>
    %t = nn.constant {value = dense<[1.0, 1.0]> : tensor<2xf32>, node = "shift"} : tensor<2xf32>
    %y = nn.add %m, %t {node = "shift"} : tensor<1x2xf32>, tensor<2xf32> -> tensor<1x2xf32>
    func.return %y : tensor<1x2xf32>
  }
}

// CHECK:      %[[D:.*]] = nn.dense %x {node = "fc", weight = dense<{{\[\[}}2.000000e+00, 4.000000e+00], [1.500000e+00, 2.000000e+00]]> : tensor<2x2xf32>, bias = dense<[2.000000e+00, 7.500000e-01]> : tensor<2xf32>}
// CHECK-NEXT: func.return %[[D]]
