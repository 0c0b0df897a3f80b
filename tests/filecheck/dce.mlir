// Results nobody reads are dropped (nn ops are side-effect free).
// RUN: rtlflow opt %s -p dce | filecheck %s

builtin.module {
  func.func @tiny(%x: tensor<1x2xf32>) -> tensor<1x2xf32> attributes {onnx.inputs = ["x"], onnx.outputs = ["y"]} {
    %unused = nn.constant {value = dense<[1.0, 2.0]> : tensor<2xf32>, node = "c"} : tensor<2xf32>
    %dead = nn.sigmoid %x {node = "s"} : tensor<1x2xf32> -> tensor<1x2xf32>
    %y = nn.relu %x {node = "r"} : tensor<1x2xf32> -> tensor<1x2xf32>
    func.return %y : tensor<1x2xf32>
  }
}

// CHECK-NOT:  nn.constant
// CHECK-NOT:  nn.sigmoid
// CHECK:      %y = nn.relu %x
