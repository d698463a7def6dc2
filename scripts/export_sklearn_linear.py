#!/usr/bin/python3
"""Exports a fitted scikit-learn linear model as the JSON artifact of freshet's "linear" runtime.

Usage: /usr/bin/python3 scripts/export_sklearn_linear.py MODEL OUT.json
  MODEL    a joblib or pickle file holding a fitted estimator (loading a pickle runs code:
           export only files you trust)
  OUT.json written as {"kind", "coef", "intercept", "classes", "estimator"}; format in
           src/models/linear_runtime.h and docs/models.md

Supported: linear regressors (LinearRegression, Ridge, Lasso, ElasticNet, SGDRegressor, ...;
multi-target too) as "regression", reproducing predict(); LogisticRegression (and
LogisticRegressionCV) as "logistic" (binary: the output is predict_proba's column for
classes_[1]), "multinomial" or "ovr", reproducing predict_proba(). Needs Debian's python3-sklearn
(run with /usr/bin/python3). export() can also be imported and called on an estimator.
"""
import json
import sys

import numpy as np
from sklearn.base import is_regressor
from sklearn.linear_model import LogisticRegression


def _plain(value):
    """A class label as a JSON string or number."""
    value = value.item() if isinstance(value, np.generic) else value
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return str(value)
    return value


def _uses_ovr(model):
    """Mirrors LogisticRegression.predict_proba's choice between one-vs-rest and softmax."""
    multi_class = getattr(model, "multi_class", "auto")
    if multi_class in ("ovr", "warn"):
        return True
    return multi_class == "auto" and (len(model.classes_) <= 2 or model.solver == "liblinear")


def export(model):
    """The artifact of a fitted estimator, as a dict; ValueError for unsupported ones."""
    name = type(model).__name__
    if not hasattr(model, "coef_"):
        raise ValueError(f"{name} is not a fitted linear model (no coef_)")
    coef = np.asarray(model.coef_, dtype=np.float64)
    intercept = np.atleast_1d(np.asarray(model.intercept_, dtype=np.float64))
    if isinstance(model, LogisticRegression):
        classes = [_plain(c) for c in model.classes_]
        if len(classes) == 2:
            # predict_proba is [1 - p, p]: p = sigmoid(d) for one-vs-rest and
            # softmax([-d, d])[1] = sigmoid(2 d) for multinomial.
            scale = 1.0 if _uses_ovr(model) else 2.0
            coef, intercept, kind = coef * scale, intercept * scale, "logistic"
        else:
            kind = "ovr" if _uses_ovr(model) else "multinomial"
    elif is_regressor(model):
        classes, kind = [], "regression"
        coef = coef.reshape(-1, coef.shape[-1])
        if intercept.size == 1 and coef.shape[0] > 1:
            intercept = np.repeat(intercept, coef.shape[0])
    else:
        raise ValueError(f"{name} is not supported: export linear regressors or "
                         "LogisticRegression")
    artifact = {"kind": kind, "coef": coef.tolist(), "intercept": intercept.tolist(),
                "estimator": name}
    if classes:
        artifact["classes"] = classes
    return artifact


def main(argv):
    if len(argv) != 3:
        sys.exit(__doc__)
    import joblib  # python3-joblib, a dependency of python3-sklearn; reads pickles too

    artifact = export(joblib.load(argv[1]))
    with open(argv[2], "w") as out:
        json.dump(artifact, out)  # floats as repr: they read back exactly
        out.write("\n")


if __name__ == "__main__":
    main(sys.argv)
