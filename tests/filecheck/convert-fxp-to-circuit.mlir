// Every fxp op becomes a circuit.unit holding it, not yet scheduled (no registers, latency 0).
// RUN: rtlflow opt %s -p convert-fxp-to-circuit | filecheck %s

builtin.module {
  func.func @tiny(%x: tensor<1x2x!fxp.fixed<8, 3>>) -> tensor<1x2x!fxp.fixed<8, 3>> attributes {onnx.inputs = ["x"], onnx.outputs = ["y"]} {
    %d = fxp.dense %x {node = "fc", weight = dense<[[16, -8], [32, 24]]> : tensor<2x2xi64>, weight_type = !fxp.fixed<8, 3>, bias = dense<[4, -32]> : tensor<2xi64>, bias_type = !fxp.fixed<8, 3>, accumulator = !fxp.fixed<14, 4>, reuse_factor = 1 : i64} : tensor<1x2x!fxp.fixed<8, 3>> -> tensor<1x2x!fxp.fixed<8, 3>>
    %y = fxp.relu %d {node = "act"} : tensor<1x2x!fxp.fixed<8, 3>> -> tensor<1x2x!fxp.fixed<8, 3>>
    func.return %y : tensor<1x2x!fxp.fixed<8, 3>>
  }
}

// CHECK:      %[[D:.*]] = circuit.unit %x {node = "fc", module = "", registers = array<i64>, latency = 0 : i64, ii = 1 : i64}
// CHECK:      fxp.dense
// CHECK-NEXT: circuit.yield
// CHECK:      %[[Y:.*]] = circuit.unit %[[D]] {node = "act", {{.*}}latency = 0 : i64
// CHECK:      fxp.relu
// CHECK:      func.return %[[Y]]
