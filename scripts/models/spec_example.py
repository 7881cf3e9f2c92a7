"""Writes test/fixtures/spec-example.onnx: the model of the Open Inference Protocol's REST example
(kserve/open-inference-protocol, specification/protocol/inference_rest.md, "Inference Request Examples"):
inputs input0 UINT32 [2, 2] and input1 BOOL [3]; output0 FP32 [3, 2] (input0's rows, then input1's first two
elements as 0/1), output1 BOOL [3] (not input1). test/service/v2.test.ts sends the specification's request to it.

Run: python3 scripts/models/spec_example.py   (needs `pip install onnx onnxruntime numpy`)
"""
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = Path(__file__).resolve().parents[2] / 'test' / 'fixtures' / 'spec-example.onnx'

nodes = [
    helper.make_node('Cast', ['input0'], ['rows'], to=TensorProto.FLOAT),
    helper.make_node('Cast', ['input1'], ['flags'], to=TensorProto.FLOAT),
    helper.make_node('Slice', ['flags', 'start', 'end'], ['first_two']),
    helper.make_node('Reshape', ['first_two', 'row_shape'], ['last_row']),
    helper.make_node('Concat', ['rows', 'last_row'], ['output0'], axis=0),
    helper.make_node('Not', ['input1'], ['output1']),
]
inits = [
    numpy_helper.from_array(np.array([0], dtype=np.int64), 'start'),
    numpy_helper.from_array(np.array([2], dtype=np.int64), 'end'),
    numpy_helper.from_array(np.array([1, 2], dtype=np.int64), 'row_shape'),
]
graph = helper.make_graph(
    nodes, 'mymodel',
    [helper.make_tensor_value_info('input0', TensorProto.UINT32, [2, 2]),
     helper.make_tensor_value_info('input1', TensorProto.BOOL, [3])],
    [helper.make_tensor_value_info('output0', TensorProto.FLOAT, [3, 2]),
     helper.make_tensor_value_info('output1', TensorProto.BOOL, [3])],
    inits)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)], producer_name='scripts/models/spec_example.py')
model.ir_version = 8
onnx.checker.check_model(model, full_check=True)
OUT.write_bytes(model.SerializeToString())

import onnxruntime as ort  # noqa: E402

out0, out1 = ort.InferenceSession(str(OUT), providers=['CPUExecutionProvider']).run(
    None, {'input0': np.array([[1, 2], [3, 4]], dtype=np.uint32), 'input1': np.array([True, False, True])})
assert out0.tolist() == [[1, 2], [3, 4], [1, 0]] and out1.tolist() == [False, True, False], (out0, out1)
print(f'wrote {OUT} ({OUT.stat().st_size} bytes)')
