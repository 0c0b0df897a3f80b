// Two transposes that compose to the identity cancel, also across an element-wise op between
// them (the transpose is hoisted above it).
// RUN: rtlflow opt %s -p nn-fold-layout | filecheck %s

builtin.module {
  func.func @tiny(%x: tensor<1x2x3xf32>) -> tensor<1x2x3xf32> attributes {onnx.inputs = ["x"], onnx.outputs = ["y"]} {
    %t = nn.transpose %x {node = "t1", perm = array<i64: 0, 2, 1>} : tensor<1x2x3xf32> -> tensor<1x3x2xf32>
    %e = nn.erf %t {node = "erf"} : tensor<1x3x2xf32> -> tensor<1x3x2xf32>
    %y = nn.transpose %e {node = "t2", perm = array<i64: 0, 2, 1>} : tensor<1x3x2xf32> -> tensor<1x2x3xf32>
    func.return %y : tensor<1x2x3xf32>
  }
}

// CHECK:      %[[E:.*]] = nn.erf %x {node = "erf"} : tensor<1x2x3xf32> -> tensor<1x2x3xf32>
// CHECK-NEXT: func.return %[[E]] : tensor<1x2x3xf32>
