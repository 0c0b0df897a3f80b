// The configuration written onto the nn ops: the default and each input's format on the
// function, each op's result format (configured or the default with the layer's modes) and its
// configured constants' formats; "exact" / "auto" where the conversion derives the result instead.
// RUN: rtlflow opt %s -p nn-assign-precision --precision "fixed<8,3>" | filecheck %s
// RUN: rtlflow opt %s -p nn-assign-precision --precision auto | filecheck %s --check-prefix=AUTO

builtin.module {
  func.func @tiny(%x: tensor<1x2xf32>) -> tensor<1x2xf32> attributes {onnx.inputs = ["x"], onnx.outputs = ["y"]} {
    %d = nn.dense %x {node = "fc", weight = dense<[[0.5, -0.25], [1.0, 0.75]]> : tensor<2x2xf32>, bias = dense<[0.125, -1.0]> : tensor<2xf32>} : tensor<1x2xf32> -> tensor<1x2xf32>
    %y = nn.relu %d {node = "act"} : tensor<1x2xf32> -> tensor<1x2xf32>
    func.return %y : tensor<1x2xf32>
  }
}

// CHECK:      func.func @tiny
// CHECK-SAME: fxp.precision = !fxp.fixed<8, 3>, fxp.inputs = [!fxp.fixed<8, 3>]
// CHECK-NEXT: nn.dense %x {fxp.layer = {result = !fxp.fixed<8, 3>}, node = "fc"
// CHECK-NEXT: nn.relu %d {fxp.layer = {result = !fxp.fixed<8, 3>}, node = "act"}

// AUTO:      fxp.precision = !fxp.fixed<16, 6>, fxp.inputs = [!fxp.fixed<16, 6>]
// AUTO-NEXT: nn.dense %x {fxp.layer = {result = !fxp.fixed<16, 6>, precision = "auto"}, node = "fc"
// AUTO-NEXT: nn.relu %d {fxp.layer = {result = !fxp.fixed<16, 6>, precision = "auto"}, node = "act"}
