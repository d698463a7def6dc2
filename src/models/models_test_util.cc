#include "models/models_test_util.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>

namespace freshet::testing {
namespace {

// Trains on noisy linear data with ~5% missing values, then scores 50 fresh rows (~10% missing)
// with the ordinary DMatrix predict path, which the C++ in-place path must match. Writes the
// rows to rows.csv and each model's predictions to <model>.pred, one comma-separated line per
// row (one value per class for the multi-class model).
constexpr char kTrainScript[] = R"PY(
import sys
import numpy as np
import xgboost as xgb

out = sys.argv[1]
n_features, n_train, n_rows = 20, 2000, 50
rng = np.random.default_rng(7)
x = rng.normal(size=(n_train, n_features)).astype(np.float32)
x[rng.random(x.shape) < 0.05] = np.nan
w = rng.normal(size=n_features)
score = np.nan_to_num(x) @ w + rng.normal(size=n_train)
train = xgb.DMatrix(x, label=(score > 0).astype(np.float32), missing=np.nan)
tree = xgb.train({"objective": "binary:logistic", "max_depth": 4, "eta": 0.1, "nthread": 1,
                  "seed": 1}, train, num_boost_round=100)
assert tree.num_boosted_rounds() == 100
tree.save_model(out + "/tree.json")
tree.save_model(out + "/tree.ubj")
tree.save_model(out + "/tree.bin")
linear = xgb.train({"booster": "gblinear", "objective": "binary:logistic", "nthread": 1},
                   train, num_boost_round=20)
linear.save_model(out + "/gblinear.json")
# Three classes by score tercile; softprob gives one probability per class.
classes = np.digitize(score, np.quantile(score, [1 / 3, 2 / 3])).astype(np.float32)
multi = xgb.train({"objective": "multi:softprob", "num_class": 3, "max_depth": 3, "eta": 0.3,
                   "nthread": 1, "seed": 1}, xgb.DMatrix(x, label=classes, missing=np.nan),
                  num_boost_round=30)
multi.save_model(out + "/multi.json")
multi.save_model(out + "/multi.ubj")
regression = xgb.train({"objective": "reg:squarederror", "max_depth": 4, "eta": 0.2,
                        "nthread": 1, "seed": 1},
                       xgb.DMatrix(x, label=score.astype(np.float32), missing=np.nan),
                       num_boost_round=50)
regression.save_model(out + "/regression.json")
regression.save_model(out + "/regression.model")
rows = rng.normal(size=(n_rows, n_features)).astype(np.float32)
rows[rng.random(rows.shape) < 0.1] = np.nan
test = xgb.DMatrix(rows, missing=np.nan)

def write(name, values):
    with open(out + "/" + name, "w") as f:
        for row in values:
            f.write(",".join(repr(float(v)) for v in np.atleast_1d(row)) + "\n")

write("rows.csv", rows)
write("tree.pred", tree.predict(test))
write("gblinear.pred", linear.predict(test))
write("multi.pred", multi.predict(test))
write("regression.pred", regression.predict(test))
)PY";

std::unique_ptr<PythonModels> Train(const ScopedTempDir& dir) {
  WriteFile(dir.File("train.py"), kTrainScript);
  if (!RunCommand(std::string(kPython) + " " + dir.File("train.py") + " " + dir.path(), dir)) {
    return nullptr;
  }
  auto models = std::make_unique<PythonModels>();
  models->tree_json = dir.File("tree.json");
  models->tree_ubj = dir.File("tree.ubj");
  models->tree_legacy_binary = dir.File("tree.bin");
  models->gblinear_json = dir.File("gblinear.json");
  models->multiclass_json = dir.File("multi.json");
  models->multiclass_ubj = dir.File("multi.ubj");
  models->regression_json = dir.File("regression.json");
  models->regression_legacy_binary = dir.File("regression.model");
  const struct {
    const char* file;
    size_t width;
    std::vector<float>* values;
  } outputs[] = {
      {"rows.csv", PythonModels::kFeatures, &models->rows},
      {"tree.pred", 1, &models->tree_expected},
      {"gblinear.pred", 1, &models->gblinear_expected},
      {"multi.pred", PythonModels::kClasses, &models->multiclass_expected},
      {"regression.pred", 1, &models->regression_expected},
  };
  for (const auto& output : outputs) {
    if (!ReadCsvFloats(dir.File(output.file), output.width, PythonModels::kRows, output.values)) {
      ADD_FAILURE() << "python wrote an unexpected " << dir.File(output.file);
      return nullptr;
    }
  }
  return models;
}

}  // namespace

ScopedTempDir::ScopedTempDir(std::string_view tag) {
  static std::atomic<int> counter{0};
  path_ = (std::filesystem::temp_directory_path() /
           ("freshet_models_" + std::string(tag) + "_" + std::to_string(::getpid()) + "_" +
            std::to_string(counter.fetch_add(1))))
              .string();
  std::filesystem::remove_all(path_);
  std::filesystem::create_directories(path_);
}

ScopedTempDir::~ScopedTempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string ScopedTempDir::File(std::string_view name) const {
  return path_ + "/" + std::string(name);
}

void WriteFile(const std::string& path, std::string_view text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) ADD_FAILURE() << "cannot write " << path;
}

bool RunCommand(const std::string& command, const ScopedTempDir& dir) {
  std::string log = dir.File("command.log");
  std::string redirected = command + " > " + log + " 2>&1";
  if (std::system(redirected.c_str()) == 0) return true;
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  ADD_FAILURE() << "command failed: " << command << "\n" << text.str();
  return false;
}

bool ReadCsvFloats(const std::string& path, size_t width, size_t rows, std::vector<float>* out) {
  std::ifstream in(path);
  std::string line;
  size_t lines = 0;
  while (std::getline(in, line)) {
    std::stringstream fields(line);
    std::string field;
    size_t values = 0;
    for (; std::getline(fields, field, ','); ++values) {
      out->push_back(std::strtof(field.c_str(), nullptr));
    }
    if (values != width) return false;
    ++lines;
  }
  return lines == rows;
}

const PythonModels* TrainedModels() {
  // Function-local statics: trained on first use, directory removed at process exit.
  static ScopedTempDir dir("python");
  static std::unique_ptr<PythonModels> models = Train(dir);
  return models.get();
}

void WriteFasttextCorpus(const std::string& path) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> topics = {
      {"sports", {"goal", "striker", "match", "referee", "league", "score"}},
      {"food", {"recipe", "oven", "flour", "sugar", "bake", "spice"}},
      {"tech", {"compiler", "kernel", "thread", "cache", "server", "code"}},
  };
  const std::vector<std::string> shared = {"the", "a", "today", "new"};
  std::mt19937 rng(11);
  std::ostringstream corpus;
  for (int line = 0; line < 300; ++line) {
    const auto& [label, words] = topics[line % topics.size()];
    corpus << "__label__" << label;
    for (int w = 0; w < 6; ++w) {
      corpus << ' '
             << (rng() % 4 == 0 ? shared[rng() % shared.size()] : words[rng() % words.size()]);
    }
    corpus << '\n';
  }
  WriteFile(path, corpus.str());
}

std::vector<std::vector<TextLabel>> ReadFasttextPredictions(const std::string& path) {
  std::vector<std::vector<TextLabel>> all;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::vector<TextLabel> labels;
    TextLabel label;
    while (fields >> label.label >> label.probability) labels.push_back(label);
    all.push_back(labels);
  }
  return all;
}

std::vector<std::vector<float>> ReadFasttextVectors(const std::string& path) {
  std::vector<std::vector<float>> all;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::vector<float> values;
    float value;
    while (fields >> value) values.push_back(value);
    all.push_back(values);
  }
  return all;
}

const FasttextClassifier* TrainedFasttextClassifier() {
  static std::unique_ptr<FasttextClassifier> trained = [] {
    auto m = std::make_unique<FasttextClassifier>();
    WriteFasttextCorpus(m->dir.File("corpus.txt"));
    if (!RunCommand("fasttext supervised -input " + m->dir.File("corpus.txt") + " -output " +
                        m->dir.File("classifier") +
                        " -dim 10 -minCount 1 -bucket 2000 -thread 1 -verbose 0 -epoch 10 -lr 0.5"
                        " -wordNgrams 2 -minn 2 -maxn 4",
                    m->dir)) {
      return std::unique_ptr<FasttextClassifier>();
    }
    m->path = m->dir.File("classifier.bin");
    return m;
  }();
  return trained.get();
}

namespace {

// Runs the fastText CLI `args` with `texts` as its input lines; its output file's path.
std::string RunFasttextOnTexts(const FasttextClassifier& model, const std::string& args,
                               const std::vector<std::string>& texts, std::string_view tag) {
  static std::atomic<int> next{0};
  const std::string n = std::to_string(next++);
  const std::string in = model.dir.File(std::string(tag) + n + ".in");
  const std::string out = model.dir.File(std::string(tag) + n + ".out");
  std::string lines;
  for (const std::string& text : texts) lines += text + "\n";
  WriteFile(in, lines);
  if (!RunCommand("(fasttext " + args + " < " + in + " > " + out + ")", model.dir)) return "";
  return out;
}

}  // namespace

std::vector<std::vector<TextLabel>> FasttextPredictProb(const FasttextClassifier& model,
                                                        const std::vector<std::string>& texts,
                                                        int k) {
  std::string out = RunFasttextOnTexts(
      model, "predict-prob " + model.path + " - " + std::to_string(k), texts, "predict");
  return out.empty() ? std::vector<std::vector<TextLabel>>() : ReadFasttextPredictions(out);
}

std::vector<std::vector<float>> FasttextSentenceVectors(const FasttextClassifier& model,
                                                        const std::vector<std::string>& texts) {
  std::string out =
      RunFasttextOnTexts(model, "print-sentence-vectors " + model.path, texts, "vectors");
  return out.empty() ? std::vector<std::vector<float>>() : ReadFasttextVectors(out);
}

}  // namespace freshet::testing
