#!/usr/bin/python3
"""Trains the meditation example's `next_content` model: will the user's next start be sleep content?

    train.py TRAINING_CSV MODEL_JSON [--features a,b,c] [--rounds N] [--depth D]

TRAINING_CSV is the point-in-time training set written by `freshet backfill`: columns user_id,
ts_ms, label, then one column per feature in feature-service order (an empty cell is a missing
value). The model is an XGBoost binary:logistic booster saved as JSON, with the CSV's feature
column names as its feature names, so freshet can check it against the `recommender` service.

The last 20% of rows by ts_ms are held out (no shuffling: the model is judged on the future, as in
production). Prints one JSON line: {"auc": .., "logloss": .., "rows": .., "holdout_rows": ..,
"features": [..]}. Exit status 2 on bad input.

Needs only Debian's python3-xgboost and python3-numpy; run with /usr/bin/python3.
"""
import argparse
import csv
import json
import sys

import numpy as np
import xgboost as xgb

KEY_COLUMNS = ("user_id", "ts_ms", "label")
HOLDOUT_SHARE = 0.2
SEED = 7


class InputError(Exception):
    pass


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("training_csv")
    ap.add_argument("model_json")
    ap.add_argument("--features", help="comma-separated subset of the feature columns, in order")
    ap.add_argument("--rounds", type=int, default=100, help="boosting rounds (trees); default 100")
    ap.add_argument("--depth", type=int, default=4, help="maximum tree depth; default 4")
    return ap.parse_args(argv)


def parse_number(text, where, column):
    if text == "":
        return np.nan
    try:
        return float(text)
    except ValueError:
        raise InputError(f"{where}: column '{column}': not a number: {text!r}") from None


def read_training_set(path, wanted):
    """Returns (feature_names, X float32 [rows, features], y, ts) from the backfill CSV."""
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None or tuple(header[:3]) != KEY_COLUMNS:
            raise InputError(f"{path}: header must start with {','.join(KEY_COLUMNS)}")
        columns = header[3:]
        names = wanted or columns
        missing = [n for n in names if n not in columns]
        if missing or not names:
            raise InputError(f"{path}: no feature column(s) {missing or '(none given)'}")
        picks = [3 + columns.index(n) for n in names]
        xs, ys, ts = [], [], []
        for line, row in enumerate(reader, start=2):
            where = f"{path}:{line}"
            if len(row) != len(header):
                raise InputError(f"{where}: {len(row)} cells, the header has {len(header)}")
            ts.append(parse_number(row[1], where, "ts_ms"))
            ys.append(parse_number(row[2], where, "label"))
            xs.append([parse_number(row[i], where, header[i]) for i in picks])
    if len(ys) < 10:
        raise InputError(f"{path}: {len(ys)} rows; need at least 10 to train and hold out")
    return names, np.array(xs, dtype=np.float32), np.array(ys), np.array(ts)


def auc(y, p):
    """Area under the ROC curve (ties share their average rank); None for a single class."""
    positives = int(y.sum())
    negatives = len(y) - positives
    if positives == 0 or negatives == 0:
        return None
    order = np.argsort(p, kind="mergesort")
    ranks = np.empty(len(p))
    sorted_p = p[order]
    i = 0
    while i < len(p):
        j = i
        while j + 1 < len(p) and sorted_p[j + 1] == sorted_p[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[y == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def logloss(y, p):
    p = np.clip(p, 1e-15, 1 - 1e-15)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def train(names, x, y, ts, rounds, depth):
    order = np.argsort(ts, kind="mergesort")
    x, y = x[order], y[order]
    split = int(len(y) * (1 - HOLDOUT_SHARE))
    params = {"objective": "binary:logistic", "max_depth": depth, "eta": 0.1, "nthread": 2,
              "seed": SEED, "tree_method": "hist"}
    dtrain = xgb.DMatrix(x[:split], label=y[:split], feature_names=names, missing=np.nan)
    booster = xgb.train(params, dtrain, num_boost_round=rounds)
    holdout = xgb.DMatrix(x[split:], feature_names=names, missing=np.nan)
    p = booster.predict(holdout)
    metrics = {"auc": auc(y[split:], p), "logloss": logloss(y[split:], p), "rows": len(y),
               "holdout_rows": len(y) - split, "features": names}
    return booster, metrics


def main(argv):
    args = parse_args(argv)
    wanted = [f for f in args.features.split(",") if f] if args.features else None
    try:
        names, x, y, ts = read_training_set(args.training_csv, wanted)
    except (InputError, OSError) as e:
        print(f"train.py: {e}", file=sys.stderr)
        return 2
    booster, metrics = train(names, x, y, ts, args.rounds, args.depth)
    booster.save_model(args.model_json)
    print(json.dumps(metrics))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
