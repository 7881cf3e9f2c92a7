"""Trains a logistic regression on scikit-learn's iris data and writes it as an ONNX graph, without skl2onnx.

Run: python3 scripts/models/iris_classifier.py   (needs `pip install onnx onnxruntime scikit-learn numpy`)

Writes models/iris-classifier/1/model.onnx and test/fixtures/iris-heldout.json (the rows the model never saw, with
their labels). The graph is the fitted pipeline, written with the onnx helper API:
  input  FP32 [batch, 4] (sepal length, sepal width, petal length, petal width, cm)
  (input - mean) / scale          the StandardScaler
  MatMul coef^T + intercept       the logistic regression's logits
  probabilities = Softmax(logits) FP32 [batch, 3]
  label = ArgMax(logits)          INT64 [batch]: 0 setosa, 1 versicolor, 2 virginica
and is checked against scikit-learn's own predict and predict_proba on every row before it is written.
"""
import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / 'models' / 'iris-classifier' / '1' / 'model.onnx'
HELDOUT = ROOT / 'test' / 'fixtures' / 'iris-heldout.json'
SEED = 0


def train():
    iris = load_iris()
    x_train, x_test, y_train, y_test = train_test_split(
        iris.data, iris.target, test_size=0.3, stratify=iris.target, random_state=SEED)
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, random_state=SEED))
    pipeline.fit(x_train, y_train)
    return iris, pipeline, x_test, y_test


def to_onnx(pipeline) -> onnx.ModelProto:
    scaler, logreg = pipeline[0], pipeline[1]
    f32 = lambda a: np.asarray(a, dtype=np.float32)
    inits = [
        numpy_helper.from_array(f32(scaler.mean_), 'mean'),
        numpy_helper.from_array(f32(scaler.scale_), 'scale'),
        numpy_helper.from_array(f32(logreg.coef_.T), 'coef'),
        numpy_helper.from_array(f32(logreg.intercept_), 'intercept'),
    ]
    nodes = [
        helper.make_node('Sub', ['input', 'mean'], ['centred']),
        helper.make_node('Div', ['centred', 'scale'], ['scaled']),
        helper.make_node('MatMul', ['scaled', 'coef'], ['product']),
        helper.make_node('Add', ['product', 'intercept'], ['logits']),
        helper.make_node('ArgMax', ['logits'], ['label'], axis=1, keepdims=0),
        helper.make_node('Softmax', ['logits'], ['probabilities'], axis=1),
    ]
    graph = helper.make_graph(
        nodes, 'iris-classifier',
        [helper.make_tensor_value_info('input', TensorProto.FLOAT, ['batch', 4])],
        [helper.make_tensor_value_info('label', TensorProto.INT64, ['batch']),
         helper.make_tensor_value_info('probabilities', TensorProto.FLOAT, ['batch', 3])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)], producer_name='scripts/models/iris_classifier.py')
    model.ir_version = 8
    model.doc_string = 'Iris species from 4 measurements (cm): logistic regression, scikit-learn, seed 0.'
    onnx.checker.check_model(model, full_check=True)
    return model


def check(path: Path, pipeline, x) -> None:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=['CPUExecutionProvider'])
    label, proba = sess.run(None, {'input': x.astype(np.float32)})
    assert (label == pipeline.predict(x)).all(), 'ONNX labels differ from scikit-learn'
    assert np.allclose(proba, pipeline.predict_proba(x), atol=1e-5), 'ONNX probabilities differ from scikit-learn'


if __name__ == '__main__':
    iris, pipeline, x_test, y_test = train()
    MODEL.parent.mkdir(parents=True, exist_ok=True)
    MODEL.write_bytes(to_onnx(pipeline).SerializeToString())
    check(MODEL, pipeline, iris.data)
    accuracy = float((pipeline.predict(x_test) == y_test).mean())
    HELDOUT.parent.mkdir(parents=True, exist_ok=True)
    HELDOUT.write_text(json.dumps({
        'source': 'scikit-learn load_iris, train_test_split(test_size=0.3, stratify=target, random_state=0): the test part',
        'feature_names': iris.feature_names,
        'target_names': iris.target_names.tolist(),
        'sklearn_accuracy': accuracy,
        'rows': x_test.tolist(),
        'labels': y_test.tolist(),
    }, indent=None) + '\n')
    print(f'wrote {MODEL.relative_to(ROOT)} ({MODEL.stat().st_size} bytes) and {HELDOUT.relative_to(ROOT)}: '
          f'{len(y_test)} held-out rows, scikit-learn accuracy {accuracy:.4f}')
