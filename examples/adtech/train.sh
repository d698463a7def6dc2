#!/usr/bin/env bash
# Trains the ad classifier `ad_category` with Debian's fasttext CLI on a generated corpus of
# four ad categories (travel, finance, gaming, fashion): writes OUT_DIR/corpus.txt and
# OUT_DIR/ad_category.bin. Deterministic: the corpus comes from a fixed integer sequence and
# fastText trains on one thread.
# Usage: bash examples/adtech/train.sh OUT_DIR
set -euo pipefail
out="${1:?usage: train.sh OUT_DIR}"
mkdir -p "$out"
command -v fasttext >/dev/null || { echo "train.sh: needs the fasttext CLI (apt-get install fasttext)" >&2; exit 1; }

awk 'BEGIN {
  n = split("travel finance gaming fashion", label, " ")
  words["travel"]  = "flight hotel beach resort island cruise passport"
  words["finance"] = "loan mortgage savings credit invest rates bank"
  words["gaming"]  = "console quest players arcade multiplayer controller level"
  words["fashion"] = "dress sneakers jacket style denim handbag summer"
  split("the new best deal today your", shared, " ")
  x = 1
  for (line = 0; line < 400; ++line) {
    l = label[line % n + 1]
    m = split(words[l], w, " ")
    text = "__label__" l
    for (i = 0; i < 7; ++i) {
      x = (x * 75) % 65537                  # a fixed pseudo-random sequence (Lehmer)
      if (x % 4 == 0) text = text " " shared[x % 6 + 1]
      else text = text " " w[x % m + 1]
    }
    print text
  }
}' > "$out/corpus.txt"

fasttext supervised -input "$out/corpus.txt" -output "$out/ad_category" -dim 10 -minCount 1 \
  -bucket 2000 -thread 1 -verbose 0 -epoch 10 -lr 0.5 -wordNgrams 2 -minn 2 -maxn 4
rm -f "$out/ad_category.vec"
echo "$out/ad_category.bin"
