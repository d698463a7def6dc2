// The model artifact parsers freshet writes itself: the first byte picks the runtime, the rest
// is the artifact file. 0: fasttext (the structure check that guards fastText's own loader: a
// file it passes must load without hanging, allocating without bound or reading out of
// bounds, and then classify and embed); 1: linear (both JSON forms). XGBoost's and LibTorch's
// loaders are theirs and are not fuzzed here. A rejected artifact must be kInvalidArgument.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "fuzz_spec.h"  // FUZZ_CHECK
#include "models/fasttext_runtime.h"
#include "models/linear_runtime.h"

using namespace freshet;

namespace {

// One scratch file per process: the runtimes load from a path.
const std::string& ScratchPath() {
  static const std::string path = [] {
    std::string p = "/tmp/freshet_model_artifact_fuzzer_" + std::to_string(::getpid());
    std::atexit([] { std::remove(ScratchPath().c_str()); });
    return p;
  }();
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  {
    std::ofstream out(ScratchPath(), std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data + 1), static_cast<std::streamsize>(size - 1));
  }
  if (data[0] % 2 == 0) {
    FasttextRuntime runtime;
    Status loaded = runtime.Load(ScratchPath());
    if (!loaded.ok()) {
      FUZZ_CHECK(loaded.code() == StatusCode::kInvalidArgument);
      return 0;
    }
    std::vector<std::vector<TextLabel>> labels;
    std::vector<float> vectors;
    const std::vector<std::string> texts = {"a b c", "", "__label__x d\nq"};
    // Finite but huge weights can still overflow to NaN inside fastText, which throws: that
    // must come back as kInternal, not escape.
    Status predicted = runtime.PredictText(texts, 3, 0.0f, &labels);
    if (runtime.num_labels() == 0) {
      FUZZ_CHECK(predicted.code() == StatusCode::kFailedPrecondition);
    } else {
      FUZZ_CHECK(predicted.ok() || predicted.code() == StatusCode::kInternal);
      FUZZ_CHECK(!predicted.ok() || labels.size() == texts.size());
    }
    Status embedded = runtime.SentenceVectors(texts, &vectors);
    FUZZ_CHECK(embedded.ok() || embedded.code() == StatusCode::kInternal);
    FUZZ_CHECK(!embedded.ok() ||
               vectors.size() == texts.size() * static_cast<size_t>(runtime.dimension()));
  } else {
    LinearRuntime runtime;
    Status loaded = runtime.Load(ScratchPath());
    if (!loaded.ok()) {
      FUZZ_CHECK(loaded.code() == StatusCode::kInvalidArgument);
      return 0;
    }
    const size_t n = static_cast<size_t>(runtime.num_features());
    std::vector<float> rows(2 * n, 0.5f);
    std::vector<float> out;
    FUZZ_CHECK(runtime.Predict(rows.data(), 2, n, &out).ok());
    FUZZ_CHECK(!out.empty() && out.size() % 2 == 0);
  }
  return 0;
}
