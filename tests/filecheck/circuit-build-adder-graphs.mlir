// A dense layer's constant products become a shift-add graph in the unit's implementation
// region: adders of shifted inputs, a cast per output, no multiplier at --dsp-budget 0.
// RUN: rtlflow opt %s -p convert-fxp-to-circuit,circuit-build-adder-graphs | filecheck %s

builtin.module {
  func.func @tiny(%x: tensor<1x2x!fxp.fixed<8, 3>>) -> tensor<1x2x!fxp.fixed<8, 3>> attributes {onnx.inputs = ["x"], onnx.outputs = ["y"]} {
    %d = fxp.dense %x {node = "fc", weight = dense<[[16, -8], [32, 24]]> : tensor<2x2xi64>, weight_type = !fxp.fixed<8, 3>, bias = dense<[4, -32]> : tensor<2xi64>, bias_type = !fxp.fixed<8, 3>, accumulator = !fxp.fixed<14, 4>, reuse_factor = 1 : i64} : tensor<1x2x!fxp.fixed<8, 3>> -> tensor<1x2x!fxp.fixed<8, 3>>
    func.return %d : tensor<1x2x!fxp.fixed<8, 3>>
  }
}

// CHECK:      circuit.unit %x {circuit.carry = "CARRY8", node = "fc"
// CHECK:      } implementation {
// CHECK-NEXT: ^bb0(%[[X0:.*]]: !shiftadd.int<-128, 127>, %[[X1:.*]]: !shiftadd.int<-128, 127>):
// CHECK-NOT:  shiftadd.multiply
// CHECK:      shiftadd.add
// CHECK:      %[[Y0:.*]] = shiftadd.cast {{.*}}width = 8 : i64, signed = 1 : i64
// CHECK:      %[[Y1:.*]] = shiftadd.cast {{.*}}width = 8 : i64, signed = 1 : i64
// CHECK:      shiftadd.yield %[[Y0]], %[[Y1]]
