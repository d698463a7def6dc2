#!/usr/bin/env bash
# Installs every Debian package freshet's build, tests, benchmarks and demo need.
# Idempotent: packages already installed are skipped, so a second run costs a second.
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build pkg-config clang-format
  # the fuzz targets (fuzz/run.sh): clang with libFuzzer and the sanitizer runtimes
  clang libclang-rt-14-dev
  # libraries
  librocksdb-dev libboost1.74-dev libboost-system1.74-dev
  libsimdjson-dev rapidjson-dev libyaml-cpp-dev libcli11-dev libspdlog-dev libfmt-dev
  libxgboost-dev libgtest-dev libgmock-dev libbenchmark-dev
  libjemalloc-dev libcurl4-openssl-dev
  # SHA-256 of model artifacts (OpenSSL EVP, libcrypto)
  libssl-dev
  # the torchscript and fasttext model runtimes (src/models)
  libtorch-dev libfasttext-dev
  # source expectations' `matches` (src/quality): linear-time regular expressions, safe on input
  libre2-dev
  # kafka sources and sinks (src/sources, src/sinks); its mock cluster serves the Kafka tests
  librdkafka-dev
  # the peer the backfill is checked against (tests/pit_postgres_test.sh, bench/)
  postgresql
  # the online-serving benchmark (bench/online_features.sh): HTTP load and the redis GET ceiling
  wrk redis-server redis-tools
  # the demo trains its model with Debian's Python stack (/usr/bin/python3)
  python3 python3-xgboost python3-numpy
  # the models tests make their models with each runtime's own tool: TorchScript modules with
  # PyTorch, fastText models with the fasttext CLI, linear models with scikit-learn (also what
  # scripts/export_sklearn_linear.py exports from)
  python3-torch fasttext python3-sklearn
  curl
  # benchmark peers: bench/predict.sh runs /work/shared/peers/flask_sklearn (Flask + gunicorn
  # reading features from redis, scoring a scikit-learn model)
  python3-flask python3-sklearn python3-redis gunicorn
  # /metrics is checked with promtool (tests/promtool_metrics_test.sh)
  prometheus
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "setup: installing ${missing[*]}" >&2
sudo_cmd=()
[ "$(id -u)" = 0 ] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
