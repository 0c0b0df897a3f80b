// Registers from the delay model: none inside a layer that fits one cycle at 200 MHz, one
// where the clock is too fast for that; the design's output is registered either way.
// RUN: rtlflow opt %s -p convert-fxp-to-circuit,circuit-build-adder-graphs,circuit-insert-registers{clock-mhz=200} | filecheck %s --check-prefix=SLOW
// RUN: rtlflow opt %s -p convert-fxp-to-circuit,circuit-build-adder-graphs,circuit-insert-registers{clock-mhz=1000} | filecheck %s --check-prefix=FAST

builtin.module {
  func.func @tiny(%x: tensor<1x2x!fxp.fixed<8, 3>>) -> tensor<1x2x!fxp.fixed<8, 3>> attributes {onnx.inputs = ["x"], onnx.outputs = ["y"]} {
    %d = fxp.dense %x {node = "fc", weight = dense<[[16, -8], [32, 24]]> : tensor<2x2xi64>, weight_type = !fxp.fixed<8, 3>, bias = dense<[4, -32]> : tensor<2xi64>, bias_type = !fxp.fixed<8, 3>, accumulator = !fxp.fixed<14, 4>, reuse_factor = 1 : i64} : tensor<1x2x!fxp.fixed<8, 3>> -> tensor<1x2x!fxp.fixed<8, 3>>
    %y = fxp.relu %d {node = "act"} : tensor<1x2x!fxp.fixed<8, 3>> -> tensor<1x2x!fxp.fixed<8, 3>>
    func.return %y : tensor<1x2x!fxp.fixed<8, 3>>
  }
}

// SLOW:      circuit.unit %x {{.*}}node = "fc"{{.*}}registers = array<i64>, latency = 0 : i64
// SLOW:      circuit.unit {{.*}}node = "act"{{.*}}latency = 1 : i64
// FAST:      circuit.unit %x {{.*}}node = "fc"{{.*}}registers = array<i64: 1>, latency = 1 : i64
// FAST:      circuit.unit {{.*}}node = "act"{{.*}}latency = 1 : i64
