// Attention folded by one reuse factor (scores MatMul, softmax, mixing MatMul with R = 2) becomes
// one circuit.unit holding the three ops, each reading the one before: its inputs q, k and v,
// its result the mix's; through reshapes and takes of every element in order between them too.
// With another reuse factor on the softmax, the three stay apart.
// RUN: rtlflow opt %s -p convert-fxp-to-circuit | filecheck %s

builtin.module {
  func.func @attn_small(%q: tensor<1x4x2x!fxp.fixed<8, 3>>, %k: tensor<1x2x4x!fxp.fixed<8, 3>>, %v: tensor<1x4x2x!fxp.fixed<8, 3>>) -> tensor<1x4x2x!fxp.fixed<8, 3>> attributes {onnx.inputs = ["q", "k", "v"], onnx.outputs = ["y"]} {
    %s = fxp.matmul %q, %k {node = "scores", reuse_factor = 2 : i64} : tensor<1x4x2x!fxp.fixed<8, 3>>, tensor<1x2x4x!fxp.fixed<8, 3>> -> tensor<1x4x4x!fxp.fixed<8, 3>>
    %p = fxp.softmax %s {node = "softmax", exp_index_bits = 10 : i64, exp_step_log2 = -6 : i64, exp_type = !fxp.fixed<18, 1, unsigned>, inv_start = 0.000000e+00 : f64, inv_index_bits = 10 : i64, inv_step_log2 = -8 : i64, inv_type = !fxp.fixed<18, 1, unsigned>, reuse_factor = 2 : i64} : tensor<1x4x4x!fxp.fixed<8, 3>> -> tensor<1x4x4x!fxp.fixed<8, 3>>
    %y = fxp.matmul %p, %v {node = "mix", reuse_factor = 2 : i64} : tensor<1x4x4x!fxp.fixed<8, 3>>, tensor<1x4x2x!fxp.fixed<8, 3>> -> tensor<1x4x2x!fxp.fixed<8, 3>>
    func.return %y : tensor<1x4x2x!fxp.fixed<8, 3>>
  }
  func.func @apart(%q: tensor<1x4x2x!fxp.fixed<8, 3>>, %k: tensor<1x2x4x!fxp.fixed<8, 3>>, %v: tensor<1x4x2x!fxp.fixed<8, 3>>) -> tensor<1x4x2x!fxp.fixed<8, 3>> attributes {onnx.inputs = ["q", "k", "v"], onnx.outputs = ["y"]} {
    %s = fxp.matmul %q, %k {node = "scores", reuse_factor = 2 : i64} : tensor<1x4x2x!fxp.fixed<8, 3>>, tensor<1x2x4x!fxp.fixed<8, 3>> -> tensor<1x4x4x!fxp.fixed<8, 3>>
    %p = fxp.softmax %s {node = "softmax", exp_index_bits = 10 : i64, exp_step_log2 = -6 : i64, exp_type = !fxp.fixed<18, 1, unsigned>, inv_start = 0.000000e+00 : f64, inv_index_bits = 10 : i64, inv_step_log2 = -8 : i64, inv_type = !fxp.fixed<18, 1, unsigned>, reuse_factor = 4 : i64} : tensor<1x4x4x!fxp.fixed<8, 3>> -> tensor<1x4x4x!fxp.fixed<8, 3>>
    %y = fxp.matmul %p, %v {node = "mix", reuse_factor = 2 : i64} : tensor<1x4x4x!fxp.fixed<8, 3>>, tensor<1x4x2x!fxp.fixed<8, 3>> -> tensor<1x4x2x!fxp.fixed<8, 3>>
    func.return %y : tensor<1x4x2x!fxp.fixed<8, 3>>
  }
  func.func @through_wiring(%q: tensor<1x4x2x!fxp.fixed<8, 3>>, %k: tensor<1x2x4x!fxp.fixed<8, 3>>, %v: tensor<1x4x2x!fxp.fixed<8, 3>>) -> tensor<1x4x2x!fxp.fixed<8, 3>> attributes {onnx.inputs = ["q", "k", "v"], onnx.outputs = ["y"]} {
    %s = fxp.matmul %q, %k {node = "scores", reuse_factor = 2 : i64} : tensor<1x4x2x!fxp.fixed<8, 3>>, tensor<1x2x4x!fxp.fixed<8, 3>> -> tensor<1x4x4x!fxp.fixed<8, 3>>
    %t = fxp.take %s {node = "view", sources = array<i64: 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15>} : tensor<1x4x4x!fxp.fixed<8, 3>> -> tensor<4x4x!fxp.fixed<8, 3>>
    %p = fxp.softmax %t {node = "softmax", exp_index_bits = 10 : i64, exp_step_log2 = -6 : i64, exp_type = !fxp.fixed<18, 1, unsigned>, inv_start = 0.000000e+00 : f64, inv_index_bits = 10 : i64, inv_step_log2 = -8 : i64, inv_type = !fxp.fixed<18, 1, unsigned>, reuse_factor = 2 : i64} : tensor<4x4x!fxp.fixed<8, 3>> -> tensor<4x4x!fxp.fixed<8, 3>>
    %r = fxp.reshape %p {node = "unview"} : tensor<4x4x!fxp.fixed<8, 3>> -> tensor<1x4x4x!fxp.fixed<8, 3>>
    %y = fxp.matmul %r, %v {node = "mix", reuse_factor = 2 : i64} : tensor<1x4x4x!fxp.fixed<8, 3>>, tensor<1x4x2x!fxp.fixed<8, 3>> -> tensor<1x4x2x!fxp.fixed<8, 3>>
    func.return %y : tensor<1x4x2x!fxp.fixed<8, 3>>
  }
}

// CHECK-LABEL: func.func @attn_small
// CHECK:      %[[Y:.*]] = circuit.unit %q, %k, %v {node = "scores+softmax+mix", module = "", registers = array<i64>, latency = 0 : i64, ii = 1 : i64}
// CHECK-NEXT: ^{{.*}}(%[[Q:.*]]: tensor<1x4x2x!fxp.fixed<8, 3>>, %[[K:.*]]: tensor<1x2x4x!fxp.fixed<8, 3>>, %[[V:.*]]: tensor<1x4x2x!fxp.fixed<8, 3>>):
// CHECK-NEXT:   %[[S:.*]] = fxp.matmul %[[Q]], %[[K]] {node = "scores"
// CHECK-NEXT:   %[[P:.*]] = fxp.softmax %[[S]] {node = "softmax"
// CHECK-NEXT:   %[[M:.*]] = fxp.matmul %[[P]], %[[V]] {node = "mix"
// CHECK-NEXT:   circuit.yield %[[M]]
// CHECK:      func.return %[[Y]]
// CHECK-LABEL: func.func @apart
// CHECK:      circuit.unit %q, %k {node = "scores"
// CHECK:      circuit.unit %{{.*}} {node = "softmax"
// CHECK:      circuit.unit %{{.*}}, %v {node = "mix"
// CHECK-LABEL: func.func @through_wiring
// CHECK:      circuit.unit %q, %k, %v {node = "scores+softmax+mix"
// CHECK-NEXT: ^
// CHECK-NEXT:   fxp.matmul
// CHECK-NEXT:   fxp.take
// CHECK-NEXT:   fxp.softmax
// CHECK-NEXT:   fxp.reshape
// CHECK-NEXT:   fxp.matmul
// CHECK-NEXT:   circuit.yield
