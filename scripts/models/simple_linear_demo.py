"""Writes models/simple-linear-demo/1/model.onnx: the guide's linear model, prediction = w.x + b, as an ONNX graph.

Run: python3 scripts/models/simple_linear_demo.py [OUT]   (needs `pip install onnx onnxruntime numpy`; OUT defaults to
the committed file, test/scripts/models.test.ts writes elsewhere and compares)

`weights` and `bias` are initialisers (also listed as graph inputs, so that other runtimes may override them); the
service writes MODEL_WEIGHTS/MODEL_BIAS into them at start-up when they are set (src/service/inference/onnx-initializers.ts).
The defaults (w = [1], b = [0]) broadcast over any feature count: the guide's "w = 1 for every feature".
Everything is FP64 so that answers stay those of the former JavaScript formula.
"""
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = Path(__file__).resolve().parents[2] / 'models' / 'simple-linear-demo' / '1' / 'model.onnx'


def build() -> onnx.ModelProto:
    x = helper.make_tensor_value_info('input', TensorProto.DOUBLE, ['batch', 'features'])
    w = helper.make_tensor_value_info('weights', TensorProto.DOUBLE, ['weight_count'])
    b = helper.make_tensor_value_info('bias', TensorProto.DOUBLE, [1])
    y = helper.make_tensor_value_info('prediction', TensorProto.DOUBLE, ['batch'])
    # b + w0*x0 + w1*x1 + ... summed left to right, as the former formula did: a column of b in front of the
    # products, a CumSum along the row (sequential, unlike ReduceSum's vectorised order), and its last column.
    nodes = [
        helper.make_node('Mul', ['input', 'weights'], ['weighted']),
        helper.make_node('Shape', ['input'], ['input_shape'], end=1),
        helper.make_node('Concat', ['input_shape', 'one'], ['column_shape'], axis=0),
        helper.make_node('Expand', ['bias', 'column_shape'], ['bias_column']),
        helper.make_node('Concat', ['bias_column', 'weighted'], ['terms'], axis=1),
        helper.make_node('CumSum', ['terms', 'axis'], ['running']),
        helper.make_node('Gather', ['running', 'last'], ['prediction'], axis=1),
    ]
    inits = [
        numpy_helper.from_array(np.array([1.0]), 'weights'),
        numpy_helper.from_array(np.array([0.0]), 'bias'),
        numpy_helper.from_array(np.array([1], dtype=np.int64), 'one'),
        numpy_helper.from_array(np.array(1, dtype=np.int64), 'axis'),
        numpy_helper.from_array(np.array(-1, dtype=np.int64), 'last'),
    ]
    graph = helper.make_graph(nodes, 'simple-linear-demo', [x, w, b], [y], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)], producer_name='scripts/models/simple_linear_demo.py')
    model.ir_version = 8  # readable by every onnxruntime from 1.10 on
    onnx.checker.check_model(model, full_check=True)
    return model


def check(path: Path) -> None:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=['CPUExecutionProvider'])
    assert [i.name for i in sess.get_inputs()] == ['input'], [i.name for i in sess.get_inputs()]
    (out,) = sess.run(None, {'input': np.array([[0.5, 1.5, 2.0]])})
    assert out.tolist() == [4.0], out
    (out,) = sess.run(None, {'input': np.array([[1.0, 2.0, 3.0]]), 'weights': np.array([2.0, 0.5, -1.0]), 'bias': np.array([10.0])})
    assert out.tolist() == [10.0], out
    rng = np.random.default_rng(7)
    for width in (1, 2, 5, 64):
        x = rng.uniform(-1e6, 1e6, (50, width))
        x[0, :2] = [1e308, -1e308][:width]
        (out,) = sess.run(None, {'input': x})
        expected = [float(sum(row.tolist(), 0.0)) for row in x]  # Python's sum: left to right, like the former formula
        assert out.tolist() == expected, (width, out[:3], expected[:3])


if __name__ == '__main__':
    import sys

    OUT = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else OUT
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_bytes(build().SerializeToString())
    check(OUT)
    print(f'wrote {OUT.relative_to(Path.cwd()) if OUT.is_relative_to(Path.cwd()) else OUT} ({OUT.stat().st_size} bytes)')
