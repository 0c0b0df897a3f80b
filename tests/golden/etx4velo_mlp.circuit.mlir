builtin.module {
  func.func @etx4velo_mlp(%x: tensor<1x3x!fxp.fixed<16, 6>>) -> tensor<1x3x!fxp.fixed<16, 6>> attributes {onnx.inputs = ["x"], onnx.outputs = ["embedding"], circuit.clock_mhz = 2.000000e+02 : f64, circuit.estimated_fmax_mhz = 2.155000e+02 : f64, circuit.latency = 7 : i64, circuit.ii = 1 : i64} {
    %linear = circuit.unit %x {node = "node_linear", module = "dense_3x8_r1_f87aaa1a", registers = array<i64>, latency = 0 : i64, ii = 1 : i64} : (tensor<1x3x!fxp.fixed<16, 6>>) -> tensor<1x8x!fxp.fixed<16, 6>> {
    ^bb0(%0: tensor<1x3x!fxp.fixed<16, 6>>):
      %linear_1 = fxp.dense %0 {node = "node_linear", weight = dense<[[-1073, -357, 141], [-1262, -1211, -5], [877, -803, 116], [-693, 89, -464], [3, 862, -3], [5, 976, 131], [-184, 1303, -53], [1607, -11, -34]]> : tensor<8x3xi64>, weight_type = !fxp.fixed<16, 6>, bias = dense<[427, 208, 619, 90, -84, 248, 748, 236]> : tensor<8xi64>, bias_type = !fxp.fixed<16, 6>, accumulator = !fxp.fixed<28, 8>, reuse_factor = 1 : i64} : tensor<1x3x!fxp.fixed<16, 6>> -> tensor<1x8x!fxp.fixed<16, 6>>
      circuit.yield %linear_1 : tensor<1x8x!fxp.fixed<16, 6>>
    }
    %relu = circuit.unit %linear {node = "node_relu", module = "relu_8_8772c02d", registers = array<i64: 0>, latency = 1 : i64, ii = 1 : i64} : (tensor<1x8x!fxp.fixed<16, 6>>) -> tensor<1x8x!fxp.fixed<16, 6>> {
    ^bb0(%1: tensor<1x8x!fxp.fixed<16, 6>>):
      %relu_1 = fxp.relu %1 {node = "node_relu"} : tensor<1x8x!fxp.fixed<16, 6>> -> tensor<1x8x!fxp.fixed<16, 6>>
      circuit.yield %relu_1 : tensor<1x8x!fxp.fixed<16, 6>>
    }
    %linear_2 = circuit.unit %relu {node = "node_linear_1", module = "dense_8x8_r1_c7e1f73a", registers = array<i64: 2>, latency = 1 : i64, ii = 1 : i64} : (tensor<1x8x!fxp.fixed<16, 6>>) -> tensor<1x8x!fxp.fixed<16, 6>> {
    ^bb0(%2: tensor<1x8x!fxp.fixed<16, 6>>):
      %linear_3 = fxp.dense %2 {node = "node_linear_1", weight = dense<[[368, 495, -461, 182, 95, -135, -44, -957], [174, -385, -566, -382, -873, -153, 629, 395], [-198, -33, 511, 6, -272, -450, -619, 955], [-209, -915, 163, 226, -987, 433, 613, -16], [-485, 388, -174, -342, 851, -151, 30, 61], [-316, 26, -18, -209, -335, -29, -54, -128], [-89, 217, -24, -254, -233, -135, 254, -54], [-640, 321, 512, -220, 403, -277, -700, 679]]> : tensor<8x8xi64>, weight_type = !fxp.fixed<16, 6>, bias = dense<[498, 295, 451, -6, 663, -156, 329, 191]> : tensor<8xi64>, bias_type = !fxp.fixed<16, 6>, accumulator = !fxp.fixed<28, 8>, reuse_factor = 1 : i64} : tensor<1x8x!fxp.fixed<16, 6>> -> tensor<1x8x!fxp.fixed<16, 6>>
      circuit.yield %linear_3 : tensor<1x8x!fxp.fixed<16, 6>>
    }
    %relu_2 = circuit.unit %linear_2 {node = "node_relu_1", module = "relu_8_879a34d0", registers = array<i64>, latency = 0 : i64, ii = 1 : i64} : (tensor<1x8x!fxp.fixed<16, 6>>) -> tensor<1x8x!fxp.fixed<16, 6>> {
    ^bb0(%3: tensor<1x8x!fxp.fixed<16, 6>>):
      %relu_3 = fxp.relu %3 {node = "node_relu_1"} : tensor<1x8x!fxp.fixed<16, 6>> -> tensor<1x8x!fxp.fixed<16, 6>>
      circuit.yield %relu_3 : tensor<1x8x!fxp.fixed<16, 6>>
    }
    %linear_4 = circuit.unit %relu_2 {node = "node_linear_2", module = "dense_8x8_r1_2da1a8dc", registers = array<i64: 0, 3>, latency = 2 : i64, ii = 1 : i64} : (tensor<1x8x!fxp.fixed<16, 6>>) -> tensor<1x8x!fxp.fixed<16, 6>> {
    ^bb0(%4: tensor<1x8x!fxp.fixed<16, 6>>):
      %linear_5 = fxp.dense %4 {node = "node_linear_2", weight = dense<[[347, 757, -181, -570, 1398, 352, 223, 575], [-740, -498, 752, -327, 125, 329, 99, -1024], [171, 920, -483, 572, -549, 182, 221, 364], [-121, 105, -268, -296, -202, -7, -203, 186], [-1225, 392, 140, 560, 58, -269, -22, -64], [155, -542, 845, -626, 466, 276, 159, -727], [-61, -108, 41, -81, 145, -257, -151, -142], [92, 139, -949, -145, 93, 226, -29, -102]]> : tensor<8x8xi64>, weight_type = !fxp.fixed<16, 6>, bias = dense<[73, 491, -123, -354, 235, 204, -179, 775]> : tensor<8xi64>, bias_type = !fxp.fixed<16, 6>, accumulator = !fxp.fixed<29, 9>, reuse_factor = 1 : i64} : tensor<1x8x!fxp.fixed<16, 6>> -> tensor<1x8x!fxp.fixed<16, 6>>
      circuit.yield %linear_5 : tensor<1x8x!fxp.fixed<16, 6>>
    }
    %relu_4 = circuit.unit %linear_4 {node = "node_relu_2", module = "relu_8_879a34d0", registers = array<i64>, latency = 0 : i64, ii = 1 : i64} : (tensor<1x8x!fxp.fixed<16, 6>>) -> tensor<1x8x!fxp.fixed<16, 6>> {
    ^bb0(%5: tensor<1x8x!fxp.fixed<16, 6>>):
      %relu_5 = fxp.relu %5 {node = "node_relu_2"} : tensor<1x8x!fxp.fixed<16, 6>> -> tensor<1x8x!fxp.fixed<16, 6>>
      circuit.yield %relu_5 : tensor<1x8x!fxp.fixed<16, 6>>
    }
    %embedding = circuit.unit %relu_4 {node = "node_linear_3", module = "dense_8x3_r1_625d6df9", registers = array<i64: 0, 3, 6>, latency = 3 : i64, ii = 1 : i64} : (tensor<1x8x!fxp.fixed<16, 6>>) -> tensor<1x3x!fxp.fixed<16, 6>> {
    ^bb0(%6: tensor<1x8x!fxp.fixed<16, 6>>):
      %embedding_1 = fxp.dense %6 {node = "node_linear_3", weight = dense<[[-108, 615, 328, -107, 1101, 48, 163, -891], [-213, -707, 933, -180, 715, -784, 22, 164], [721, -77, 373, -304, 199, 241, 213, -178]]> : tensor<3x8xi64>, weight_type = !fxp.fixed<16, 6>, bias = dense<[-206, 35, 3]> : tensor<3xi64>, bias_type = !fxp.fixed<16, 6>, accumulator = !fxp.fixed<28, 8>, reuse_factor = 1 : i64} : tensor<1x8x!fxp.fixed<16, 6>> -> tensor<1x3x!fxp.fixed<16, 6>>
      circuit.yield %embedding_1 : tensor<1x3x!fxp.fixed<16, 6>>
    }
    func.return %embedding : tensor<1x3x!fxp.fixed<16, 6>>
  }
}
