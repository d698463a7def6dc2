#include "models/fasttext_runtime.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "models/artifact_file.h"
#include "models/models_test_util.h"

namespace freshet {
namespace {

using testing::ScopedTempDir;

constexpr int kDim = 10;

// Texts to score, as lines of a file for the fastText CLI. They include an empty text, words the
// model never saw, a label token and a word n-gram the corpus has.
const std::vector<std::string>& Texts() {
  static const std::vector<std::string> texts = {
      "goal striker match",
      "recipe oven flour sugar",
      "compiler kernel",
      "",
      "zebra quokka",
      "match recipe kernel goal",
      "__label__food striker",
      "striker goal goal goal",
      "oven",
  };
  return texts;
}

// Texts() without the one holding a label token: the fastText CLI aborts on a label token when
// printing a word-vector model's sentence vectors (the runtime drops such tokens).
std::vector<std::string> WordTexts() {
  std::vector<std::string> texts;
  for (const std::string& text : Texts()) {
    if (text.find("__label__") == std::string::npos) texts.push_back(text);
  }
  return texts;
}

std::string Lines(const std::vector<std::string>& texts) {
  std::string lines;
  for (const std::string& text : texts) lines += text + "\n";
  return lines;
}

// A small generated corpus of three topics with a few shared words, and models the fastText CLI
// (Debian's fasttext package) trains on it in well under a second, plus the CLI's own
// predict-prob and print-sentence-vectors output for Texts().
struct FasttextModels {
  ScopedTempDir dir{"fasttext"};
  std::string classifier, classifier_quantized, skipgram;
  std::string predict_k2, predict_k3_threshold, classifier_vectors, skipgram_vectors;
};

const FasttextModels* Models() {
  static std::unique_ptr<FasttextModels> models = [] {
    auto m = std::make_unique<FasttextModels>();
    auto file = [&](std::string_view name) { return m->dir.File(name); };
    testing::WriteFasttextCorpus(file("corpus.txt"));
    testing::WriteFile(file("texts.txt"), Lines(Texts()));
    testing::WriteFile(file("word_texts.txt"), Lines(WordTexts()));
    const std::string common =
        " -input " + file("corpus.txt") + " -dim 10 -minCount 1 -bucket 2000 -thread 1 -verbose 0";
    const std::string classifier = file("classifier.bin"), skipgram = file("skipgram.bin");
    const std::vector<std::string> commands = {
        "fasttext supervised -output " + file("classifier") + common +
            " -epoch 10 -lr 0.5 -wordNgrams 2 -minn 2 -maxn 4",
        "fasttext quantize -output " + file("classifier") + " -input " + file("corpus.txt") +
            " -dsub 2 -verbose 0",
        "fasttext skipgram -output " + file("skipgram") + common + " -epoch 2 -minn 2 -maxn 4",
        "fasttext predict-prob " + classifier + " " + file("texts.txt") + " 2 > " +
            file("predict_k2.txt"),
        "fasttext predict-prob " + classifier + " " + file("texts.txt") + " 3 0.2 > " +
            file("predict_k3.txt"),
        "fasttext print-sentence-vectors " + classifier + " < " + file("texts.txt") + " > " +
            file("classifier_vectors.txt"),
        "fasttext print-sentence-vectors " + skipgram + " < " + file("word_texts.txt") + " > " +
            file("skipgram_vectors.txt"),
    };
    for (const std::string& command : commands) {
      // RunCommand sends output to its log; a command's own redirection is wrapped in a
      // subshell so it still applies.
      if (!testing::RunCommand("(" + command + ")", m->dir))
        return std::unique_ptr<FasttextModels>();
    }
    m->classifier = classifier;
    m->classifier_quantized = file("classifier.ftz");
    m->skipgram = skipgram;
    m->predict_k2 = file("predict_k2.txt");
    m->predict_k3_threshold = file("predict_k3.txt");
    m->classifier_vectors = file("classifier_vectors.txt");
    m->skipgram_vectors = file("skipgram_vectors.txt");
    return m;
  }();
  return models.get();
}

std::unique_ptr<ModelRuntime> MustLoad(const std::string& path) {
  auto runtime = LoadRuntime("fasttext", path);
  EXPECT_TRUE(runtime.ok()) << runtime.status().ToString();
  return runtime.ok() ? std::move(runtime).value() : nullptr;
}

void ExpectSamePredictions(const std::vector<std::vector<TextLabel>>& got,
                           const std::vector<std::vector<TextLabel>>& cli) {
  ASSERT_EQ(got.size(), cli.size());
  for (size_t t = 0; t < cli.size(); ++t) {
    SCOPED_TRACE("text \"" + Texts()[t] + "\"");
    ASSERT_EQ(got[t].size(), cli[t].size());
    for (size_t i = 0; i < cli[t].size(); ++i) {
      EXPECT_EQ(got[t][i].label, cli[t][i].label) << "rank " << i;
      // The CLI prints six significant digits.
      EXPECT_NEAR(got[t][i].probability, cli[t][i].probability, 1e-5f) << "rank " << i;
    }
  }
}

// print-sentence-vectors prints five significant digits.
void ExpectSameVectors(const std::vector<std::string>& texts, const std::vector<float>& got,
                       const std::vector<std::vector<float>>& cli) {
  ASSERT_EQ(cli.size(), texts.size());
  ASSERT_EQ(got.size(), cli.size() * kDim);
  for (size_t t = 0; t < cli.size(); ++t) {
    ASSERT_EQ(cli[t].size(), static_cast<size_t>(kDim)) << "text " << t;
    for (int d = 0; d < kDim; ++d) {
      float expected = cli[t][d];
      EXPECT_NEAR(got[t * kDim + d], expected, 1e-4f * std::abs(expected) + 1e-7f)
          << "text \"" << texts[t] << "\" dimension " << d;
    }
  }
}

TEST(FasttextRuntimeTest, ClassifierMatchesPredictProb) {
  const FasttextModels* models = Models();
  ASSERT_NE(models, nullptr);
  std::unique_ptr<ModelRuntime> runtime = MustLoad(models->classifier);
  ASSERT_NE(runtime, nullptr);
  EXPECT_EQ(runtime->name(), "fasttext");
  EXPECT_EQ(runtime->input(), RuntimeInput::kText);
  EXPECT_EQ(runtime->num_features(), -1);
  EXPECT_EQ(static_cast<FasttextRuntime*>(runtime.get())->num_labels(), 3);
  EXPECT_EQ(static_cast<FasttextRuntime*>(runtime.get())->dimension(), kDim);

  std::vector<std::vector<TextLabel>> k2;
  ASSERT_TRUE(runtime->PredictText(Texts(), 2, 0.0f, &k2).ok());
  std::vector<std::vector<TextLabel>> cli_k2 = testing::ReadFasttextPredictions(models->predict_k2);
  ExpectSamePredictions(k2, cli_k2);
  // The corpus is separable: a model that learned nothing would prove little.
  ASSERT_FALSE(k2[0].empty());
  EXPECT_EQ(k2[0][0].label, "__label__sports");
  EXPECT_GT(k2[0][0].probability, 0.8f);
  EXPECT_EQ(k2[1][0].label, "__label__food");

  std::vector<std::vector<TextLabel>> k3;
  ASSERT_TRUE(runtime->PredictText(Texts(), 3, 0.2f, &k3).ok());
  ExpectSamePredictions(k3, testing::ReadFasttextPredictions(models->predict_k3_threshold));
}

TEST(FasttextRuntimeTest, LineBreaksInsideATextDoNotSplitIt) {
  const FasttextModels* models = Models();
  ASSERT_NE(models, nullptr);
  std::unique_ptr<ModelRuntime> runtime = MustLoad(models->classifier);
  ASSERT_NE(runtime, nullptr);
  std::vector<std::vector<TextLabel>> joined, broken;
  ASSERT_TRUE(runtime->PredictText({"recipe oven compiler kernel"}, 3, 0, &joined).ok());
  ASSERT_TRUE(runtime->PredictText({"recipe oven\ncompiler kernel"}, 3, 0, &broken).ok());
  ASSERT_EQ(broken.size(), 1u);
  ASSERT_EQ(broken[0].size(), joined[0].size());
  for (size_t i = 0; i < joined[0].size(); ++i) {
    EXPECT_EQ(broken[0][i].label, joined[0][i].label);
    EXPECT_FLOAT_EQ(broken[0][i].probability, joined[0][i].probability);
  }
}

TEST(FasttextRuntimeTest, SentenceVectorsMatchPrintSentenceVectors) {
  const FasttextModels* models = Models();
  ASSERT_NE(models, nullptr);
  struct Case {
    std::string model, cli;
    std::vector<std::string> texts;
  };
  for (const Case& c : {Case{models->classifier, models->classifier_vectors, Texts()},
                        Case{models->skipgram, models->skipgram_vectors, WordTexts()}}) {
    SCOPED_TRACE(c.model);
    std::unique_ptr<ModelRuntime> runtime = MustLoad(c.model);
    ASSERT_NE(runtime, nullptr);
    std::vector<float> vectors;
    ASSERT_TRUE(runtime->SentenceVectors(c.texts, &vectors).ok());
    ExpectSameVectors(c.texts, vectors, testing::ReadFasttextVectors(c.cli));
  }
}

TEST(FasttextRuntimeTest, WordVectorModelIgnoresLabelTokens) {
  const FasttextModels* models = Models();
  ASSERT_NE(models, nullptr);
  std::unique_ptr<ModelRuntime> runtime = MustLoad(models->skipgram);
  ASSERT_NE(runtime, nullptr);
  std::vector<float> with_label, without;
  ASSERT_TRUE(runtime->SentenceVectors({"goal __label__food striker"}, &with_label).ok());
  ASSERT_TRUE(runtime->SentenceVectors({"goal striker"}, &without).ok());
  EXPECT_EQ(with_label, without);
  ASSERT_TRUE(runtime->SentenceVectors({"__label__food"}, &with_label).ok());
  EXPECT_EQ(with_label, std::vector<float>(kDim, 0.0f));
}

TEST(FasttextRuntimeTest, WordVectorModelIsNoClassifier) {
  const FasttextModels* models = Models();
  ASSERT_NE(models, nullptr);
  std::unique_ptr<ModelRuntime> runtime = MustLoad(models->skipgram);
  ASSERT_NE(runtime, nullptr);
  // Its dictionary holds the corpus's labels, but as a word-vector model it has no classes.
  EXPECT_EQ(static_cast<FasttextRuntime*>(runtime.get())->num_labels(), 0);
  std::vector<std::vector<TextLabel>> labels;
  EXPECT_EQ(runtime->PredictText({"goal"}, 1, 0, &labels).code(), StatusCode::kFailedPrecondition);
}

TEST(FasttextRuntimeTest, WrongEntryPointsAndArguments) {
  const FasttextModels* models = Models();
  ASSERT_NE(models, nullptr);
  FasttextRuntime runtime;
  std::vector<std::vector<TextLabel>> labels;
  std::vector<float> out;
  EXPECT_EQ(runtime.PredictText({"goal"}, 1, 0, &labels).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(runtime.SentenceVectors({"goal"}, &out).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(runtime.dimension(), -1);
  ASSERT_TRUE(runtime.Load(models->classifier).ok());
  EXPECT_EQ(runtime.Load(models->classifier).code(), StatusCode::kFailedPrecondition);
  float row[3] = {1, 2, 3};
  Status rows = runtime.Predict(row, 1, 3, &out);
  EXPECT_EQ(rows.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(rows.message(), "model runtime \"fasttext\" takes text input, not feature_rows");
  EXPECT_EQ(runtime.PredictText({"goal"}, 0, 0, &labels).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(runtime.PredictText({}, 1, 0, &labels).ok());
  EXPECT_TRUE(labels.empty());
}

TEST(FasttextRuntimeTest, ConcurrentCallsFromEightThreadsAgree) {
  const FasttextModels* models = Models();
  ASSERT_NE(models, nullptr);
  std::unique_ptr<ModelRuntime> runtime = MustLoad(models->classifier);
  ASSERT_NE(runtime, nullptr);
  std::vector<std::vector<TextLabel>> reference;
  std::vector<float> reference_vectors;
  ASSERT_TRUE(runtime->PredictText(Texts(), 3, 0, &reference).ok());
  ASSERT_TRUE(runtime->SentenceVectors(Texts(), &reference_vectors).ok());
  std::atomic<int> failures{0}, mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        size_t text = static_cast<size_t>(t + i) % Texts().size();
        std::vector<std::vector<TextLabel>> labels;
        std::vector<float> vector;
        if (!runtime->PredictText({Texts()[text]}, 3, 0, &labels).ok() ||
            !runtime->SentenceVectors({Texts()[text]}, &vector).ok()) {
          failures.fetch_add(1);
          continue;
        }
        if (labels[0].size() != reference[text].size() ||
            (!labels[0].empty() && (labels[0][0].label != reference[text][0].label ||
                                    labels[0][0].probability != reference[text][0].probability)) ||
            std::memcmp(vector.data(), &reference_vectors[text * kDim], kDim * sizeof(float)) !=
                0) {
          mismatches.fetch_add(1);
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(mismatches.load(), 0);
}

// Overwrites the little-endian integer of `width` bytes at `offset`.
std::string Patched(std::string bytes, size_t offset, int64_t value, size_t width) {
  std::memcpy(&bytes[offset], &value, width);
  return bytes;
}

TEST(FasttextRuntimeTest, CorruptTruncatedAndQuantizedFilesAreRefused) {
  const FasttextModels* models = Models();
  ASSERT_NE(models, nullptr);
  auto read = ReadFileToString(models->classifier);
  ASSERT_TRUE(read.ok());
  const std::string& bytes = *read;
  // Offsets in the .bin layout (docs/models.md): header 0-8, arguments 8-64 (dim at 8, loss at
  // 32, model at 36, bucket at 40), dictionary sizes at 64 (entries), 68 (words), 72 (labels),
  // pruned-index size at 84, entries from 92.
  int32_t nwords = 0;
  std::memcpy(&nwords, &bytes[68], sizeof(nwords));
  struct Case {
    std::string name, content, message;
  };
  std::vector<Case> cases = {
      {"empty", "", "no fastText magic number"},
      {"text", "__label__a hello world\n", "no fastText magic number"},
      {"header only", bytes.substr(0, 8), "truncated in the arguments"},
      {"old version", Patched(bytes, 4, 11, 4), "format version 11 is not supported"},
      {"zero dim", Patched(bytes, 8, 0, 4), "bad dimension 0"},
      {"bad loss", Patched(bytes, 32, 9, 4), "bad loss 9"},
      {"bad model", Patched(bytes, 36, 0, 4), "bad model type 0"},
      {"no buckets", Patched(bytes, 40, 0, 4), "bad bucket count 0"},
      {"huge dictionary", Patched(bytes, 64, 1 << 30, 4), "dictionary sizes disagree"},
      {"huge dictionary, consistent",
       Patched(Patched(bytes, 64, 1 << 30, 4), 72, (1 << 30) - nwords, 4), "dictionary entry"},
      {"no labels", Patched(Patched(bytes, 64, nwords, 4), 72, 0, 4),
       "supervised model without labels"},
      {"pruned", Patched(bytes, 84, 0, 8), "pruned"},
      {"cut in the dictionary", bytes.substr(0, 100), "truncated in the dictionary"},
      {"cut in the input matrix", bytes.substr(0, bytes.size() / 2), "truncated in the input"},
      {"all but one byte", bytes.substr(0, bytes.size() - 1), "truncated in the output matrix"},
      {"trailing bytes", bytes + "extra", "5 unexpected bytes after the model"},
      {"NaN weight", bytes.substr(0, bytes.size() - 4) + std::string("\x00\x00\xc0\x7f", 4),
       "non-finite weight nan in row 2 of the output matrix"},
  };
  auto ftz = ReadFileToString(models->classifier_quantized);
  ASSERT_TRUE(ftz.ok());
  cases.push_back({"quantized", *ftz, "not supported"});
  ScopedTempDir dir("fasttext_bad");
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::string path = dir.File("model.bin");
    testing::WriteFile(path, c.content);
    FasttextRuntime runtime;
    Status st = runtime.Load(path);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
    EXPECT_NE(st.message().find(c.message), std::string::npos) << st.message();
    EXPECT_NE(st.message().find(path), std::string::npos) << st.message();
    std::vector<std::vector<TextLabel>> labels;
    EXPECT_EQ(runtime.PredictText({"goal"}, 1, 0, &labels).code(), StatusCode::kFailedPrecondition);
  }
  FasttextRuntime missing;
  EXPECT_FALSE(missing.Load(dir.File("missing.bin")).ok());
}

}  // namespace
}  // namespace freshet
