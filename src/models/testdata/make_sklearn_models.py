"""Fits scikit-learn linear models for linear_runtime_test.cc, exports each with
scripts/export_sklearn_linear.py, and writes sklearn's own predictions for a fixed set of rows.
The exporter runs as a command on a joblib file for the first model, and is imported for the
others (each command would import sklearn again).

Usage: /usr/bin/python3 make_sklearn_models.py OUT_DIR EXPORT_SCRIPT   (Debian's python3-sklearn)

Writes to OUT_DIR rows.csv (40 rows of 5 float32 features) and, per model NAME, NAME.json (the
exported artifact) and NAME.pred (one comma-separated line of outputs per row):
  elasticnet        ElasticNet, predict
  ridge2            Ridge on two targets, predict (2 outputs)
  binary            LogisticRegression on 0/1 labels, predict_proba[:, 1]
  binary_softmax    LogisticRegression(multi_class="multinomial") on two string labels,
                    predict_proba[:, 1]
  multinomial       LogisticRegression on three string labels, predict_proba (3 outputs)
  ovr               LogisticRegression(solver="liblinear") on three int labels, predict_proba
"""
import importlib.util
import json
import subprocess
import sys

import joblib
import numpy as np
from sklearn.linear_model import ElasticNet, LogisticRegression, Ridge

N_TRAIN, N_ROWS, N_FEATURES = 400, 40, 5


def write(path, values):
    values = np.asarray(values, dtype=np.float64)
    with open(path, "w") as f:
        for row in values.reshape(values.shape[0], -1):
            f.write(",".join(repr(float(v)) for v in row) + "\n")


def main(out, exporter):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(N_TRAIN, N_FEATURES))
    w = rng.normal(size=(N_FEATURES, 3))
    score = x @ w + 0.3 * rng.normal(size=(N_TRAIN, 3))
    label3 = score.argmax(axis=1)
    names3 = np.array(["cat", "dog", "fish"])[label3]
    models = {
        "elasticnet": ElasticNet(alpha=0.05, l1_ratio=0.5).fit(x, score[:, 0]),
        "ridge2": Ridge(alpha=1.0).fit(x, score[:, :2]),
        "binary": LogisticRegression().fit(x, (score[:, 0] > 0).astype(int)),
        "binary_softmax": LogisticRegression(multi_class="multinomial").fit(
            x, np.where(score[:, 1] > 0, "yes", "no")),
        "multinomial": LogisticRegression(C=0.5).fit(x, names3),
        "ovr": LogisticRegression(solver="liblinear").fit(x, label3),
    }
    # Rows the C++ side reads back exactly: float32 values.
    rows = rng.normal(size=(N_ROWS, N_FEATURES)).astype(np.float32).astype(np.float64)
    write(out + "/rows.csv", rows)
    spec = importlib.util.spec_from_file_location("export_sklearn_linear", exporter)
    export = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(export)
    for i, (name, model) in enumerate(models.items()):
        if i == 0:
            joblib.dump(model, f"{out}/{name}.joblib")
            subprocess.run([sys.executable, exporter, f"{out}/{name}.joblib",
                            f"{out}/{name}.json"], check=True)
        else:
            with open(f"{out}/{name}.json", "w") as f:
                json.dump(export.export(model), f)
        if hasattr(model, "predict_proba"):
            proba = model.predict_proba(rows)
            write(f"{out}/{name}.pred", proba[:, 1] if proba.shape[1] == 2 else proba)
        else:
            write(f"{out}/{name}.pred", model.predict(rows))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
