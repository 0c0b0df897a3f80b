// One scale factor after ops that only move a dense layer's results (a reshape and gathers by
// constant indices, as attention's packed q, k, v projection is split) folds into the layer's
// weights and bias for the columns it reaches: q (columns 0-1) scaled by 0.5 in the layer, the
// scaling gone. The second scaling multiplies columns 2-3, which the Add also reads unscaled:
// it stays.
// RUN: rtlflow opt %s -p nn-fold-affine,dce | filecheck %s

builtin.module {
  func.func @qkv(%x: tensor<1x2xf32>) -> (tensor<1x2xf32>, tensor<1x2xf32>) attributes {onnx.inputs = ["x"], onnx.outputs = ["y", "z"]} {
    %d = nn.dense %x {node = "qkv", weight = dense<[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0], [9.0, 10.0], [11.0, 12.0]]> : tensor<6x2xf32>, bias = dense<[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]> : tensor<6xf32>} : tensor<1x2xf32> -> tensor<1x6xf32>
    %r = nn.reshape %d {node = "split"} : tensor<1x6xf32> -> tensor<3x1x2xf32>
    %i0 = nn.constant {value = dense<0> : tensor<i64>, node = "i0"} : tensor<i64>
    %i1 = nn.constant {value = dense<1> : tensor<i64>, node = "i1"} : tensor<i64>
    %i2 = nn.constant {value = dense<2> : tensor<i64>, node = "i2"} : tensor<i64>
    %q = nn.gather %r, %i0 {node = "q", axis = 0 : i64, kind = "gather"} : tensor<3x1x2xf32>, tensor<i64> -> tensor<1x2xf32>
    %k = nn.gather %r, %i1 {node = "k", axis = 0 : i64, kind = "gather"} : tensor<3x1x2xf32>, tensor<i64> -> tensor<1x2xf32>
    %v = nn.gather %r, %i2 {node = "v", axis = 0 : i64, kind = "gather"} : tensor<3x1x2xf32>, tensor<i64> -> tensor<1x2xf32>
    %s = nn.constant {value = dense<0.5> : tensor<f32>, node = "s"} : tensor<f32>
    %qs = nn.mul %q, %s {node = "scale_q"} : tensor<1x2xf32>, tensor<f32> -> tensor<1x2xf32>
    %ks = nn.mul %k, %s {node = "scale_k"} : tensor<1x2xf32>, tensor<f32> -> tensor<1x2xf32>
    %kv = nn.add %k, %v {node = "k_plus_v"} : tensor<1x2xf32>, tensor<1x2xf32> -> tensor<1x2xf32>
    %y = nn.add %qs, %ks {node = "y"} : tensor<1x2xf32>, tensor<1x2xf32> -> tensor<1x2xf32>
    func.return %y, %kv : tensor<1x2xf32>, tensor<1x2xf32>
  }
}

// CHECK:      nn.dense %x {node = "qkv", weight = dense<{{\[\[}}5.000000e-01, 1.000000e+00], [1.500000e+00, 2.000000e+00], [5.000000e+00, 6.000000e+00], [7.000000e+00, 8.000000e+00], [9.000000e+00, 1.000000e+01], [1.100000e+01, 1.200000e+01]]> : tensor<6x2xf32>, bias = dense<[5.000000e-01, 1.000000e+00, 3.000000e+00, 4.000000e+00, 5.000000e+00, 6.000000e+00]> : tensor<6xf32>}
// CHECK-NOT:  node = "scale_q"
// CHECK:      %[[KS:.*]] = nn.scale_shift %{{.*}} {node = "scale_k"
// CHECK:      nn.add %{{.*}}, %[[KS]] {node = "y"}
