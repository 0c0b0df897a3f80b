// A chain of reshapes is one reshape; a reshape to the same shape is none.
// RUN: rtlflow opt %s -p nn-fold-reshapes,dce | filecheck %s

builtin.module {
  func.func @tiny(%x: tensor<1x2x3xf32>) -> tensor<1x6xf32> attributes {onnx.inputs = ["x"], onnx.outputs = ["y"]} {
    %a = nn.reshape %x {node = "r1"} : tensor<1x2x3xf32> -> tensor<1x3x2xf32>
    %b = nn.reshape %a {node = "r2"} : tensor<1x3x2xf32> -> tensor<1x6xf32>
    %y = nn.reshape %b {node = "r3"} : tensor<1x6xf32> -> tensor<1x6xf32>
    func.return %y : tensor<1x6xf32>
  }
}

// CHECK:      %[[R:.*]] = nn.reshape %x {node = "{{r[0-9]}}"} : tensor<1x2x3xf32> -> tensor<1x6xf32>
// CHECK-NEXT: func.return %[[R]] : tensor<1x6xf32>
