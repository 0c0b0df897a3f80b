// Rows nobody reads are not computed: the output reads row 0 of a dense layer and a ReLU over
// two rows, so both work on that row alone (a take of x's row 0 in front); of a matmul's two
// result rows the output reads row 1, so the matmul takes row 1 of its left operand and all of
// its right one.
// RUN: rtlflow opt %s -p fxp-drop-unread-rows | filecheck %s

builtin.module {
  func.func @head(%x: tensor<2x2x!fxp.fixed<4, 2>>) -> tensor<2x!fxp.fixed<10, 5>> attributes {onnx.inputs = ["x"], onnx.outputs = ["y"]} {
    %d = fxp.dense %x {node = "fc", weight = dense<[[3, -2], [1, 4]]> : tensor<2x2xi64>, weight_type = !fxp.fixed<4, 1>, bias = dense<[1, -1]> : tensor<2xi64>, bias_type = !fxp.fixed<4, 1>, accumulator = !fxp.fixed<10, 5>, reuse_factor = 1 : i64} : tensor<2x2x!fxp.fixed<4, 2>> -> tensor<2x2x!fxp.fixed<10, 5>>
    %r = fxp.relu %d {node = "act"} : tensor<2x2x!fxp.fixed<10, 5>> -> tensor<2x2x!fxp.fixed<10, 5>>
    %y = fxp.take %r {node = "first", sources = array<i64: 0, 1>} : tensor<2x2x!fxp.fixed<10, 5>> -> tensor<2x!fxp.fixed<10, 5>>
    func.return %y : tensor<2x!fxp.fixed<10, 5>>
  }
  func.func @attend(%a: tensor<1x2x2x!fxp.fixed<4, 2>>, %b: tensor<1x2x2x!fxp.fixed<4, 2>>) -> tensor<1x2x!fxp.fixed<10, 5>> attributes {onnx.inputs = ["a", "b"], onnx.outputs = ["y"]} {
    %s = fxp.matmul %a, %b {node = "scores"} : tensor<1x2x2x!fxp.fixed<4, 2>>, tensor<1x2x2x!fxp.fixed<4, 2>> -> tensor<1x2x2x!fxp.fixed<10, 5>>
    %y = fxp.take %s {node = "second", sources = array<i64: 2, 3>} : tensor<1x2x2x!fxp.fixed<10, 5>> -> tensor<1x2x!fxp.fixed<10, 5>>
    func.return %y : tensor<1x2x!fxp.fixed<10, 5>>
  }
}

// CHECK-LABEL: func.func @head
// CHECK:      %[[X0:.*]] = fxp.take %x {node = "fc", sources = array<i64: 0, 1>} : tensor<2x2x!fxp.fixed<4, 2>> -> tensor<1x2x!fxp.fixed<4, 2>>
// CHECK-NEXT: %[[D:.*]] = fxp.dense %[[X0]] {{.*}} : tensor<1x2x!fxp.fixed<4, 2>> -> tensor<1x2x!fxp.fixed<10, 5>>
// CHECK-NEXT: %[[R:.*]] = fxp.relu %[[D]] {{.*}} : tensor<1x2x!fxp.fixed<10, 5>> -> tensor<1x2x!fxp.fixed<10, 5>>
// CHECK-NEXT: %[[Y:.*]] = fxp.take %[[R]] {node = "first", sources = array<i64: 0, 1>} : tensor<1x2x!fxp.fixed<10, 5>> -> tensor<2x!fxp.fixed<10, 5>>
// CHECK-NEXT: func.return %[[Y]]

// CHECK-LABEL: func.func @attend
// CHECK:      %[[A1:.*]] = fxp.take %a {node = "scores", sources = array<i64: 2, 3>} : tensor<1x2x2x!fxp.fixed<4, 2>> -> tensor<1x1x2x!fxp.fixed<4, 2>>
// CHECK-NEXT: %[[S:.*]] = fxp.matmul %[[A1]], %b {{.*}} -> tensor<1x1x2x!fxp.fixed<10, 5>>
// CHECK-NEXT: %[[Y:.*]] = fxp.take %[[S]] {node = "second", sources = array<i64: 0, 1>} : tensor<1x1x2x!fxp.fixed<10, 5>> -> tensor<1x2x!fxp.fixed<10, 5>>
// CHECK-NEXT: func.return %[[Y]]
