// An adder reading the design input and a registered layer's result: the input is delayed by
// the layer's latency so both arrive in the same cycle.
// RUN: rtlflow opt %s -p "convert-fxp-to-circuit,circuit-build-adder-graphs,circuit-insert-registers{clock-mhz=1000},circuit-balance-latency" | filecheck %s

builtin.module {
  func.func @tiny(%x: tensor<1x2x!fxp.fixed<8, 3>>) -> tensor<1x2x!fxp.fixed<9, 4>> attributes {onnx.inputs = ["x"], onnx.outputs = ["y"]} {
    %d = fxp.dense %x {node = "fc", weight = dense<[[16, -8], [32, 24]]> : tensor<2x2xi64>, weight_type = !fxp.fixed<8, 3>, bias = dense<[4, -32]> : tensor<2xi64>, bias_type = !fxp.fixed<8, 3>, accumulator = !fxp.fixed<14, 4>, reuse_factor = 1 : i64} : tensor<1x2x!fxp.fixed<8, 3>> -> tensor<1x2x!fxp.fixed<8, 3>>
    %y = fxp.add %d, %x {node = "residual"} : tensor<1x2x!fxp.fixed<8, 3>>, tensor<1x2x!fxp.fixed<8, 3>> -> tensor<1x2x!fxp.fixed<9, 4>>
    func.return %y : tensor<1x2x!fxp.fixed<9, 4>>
  }
}

// CHECK:      %[[D:.*]] = circuit.unit %x {{.*}}node = "fc"{{.*}}latency = [[L:[1-9]]] : i64
// CHECK:      %[[X:.*]] = circuit.delay %x {{.*}}[[L]]
// CHECK:      circuit.unit %[[D]], %[[X]] {{.*}}node = "residual"
