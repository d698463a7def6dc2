#include "models/fasttext_runtime.h"

#include <fasttext/fasttext.h>
#include <fmt/format.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <exception>
#include <sstream>
#include <string_view>

#include "core/byte_codec.h"
#include "models/artifact_file.h"

namespace freshet {
namespace {

// fastText's file header: FASTTEXT_FILEFORMAT_MAGIC_INT32 and FASTTEXT_VERSION of fastText 0.9.
constexpr int32_t kMagic = 793712314;
constexpr int32_t kVersion = 12;
// Bounds well beyond any real model, so a corrupt field is caught before fastText acts on it.
constexpr int32_t kMaxDimension = 1 << 16;
// A dictionary entry's count: fastText's hierarchical-softmax tree needs counts below 1e15.
constexpr int64_t kMaxCount = int64_t{1} << 40;

// The enums of fastText's args.h, as stored.
constexpr int32_t kLossMin = 1, kLossMax = 4;           // hs, ns, softmax, ova
constexpr int32_t kModelMin = 1, kModelSupervised = 3;  // cbow, sg, sup

// What the structure check learns about a model.
struct ModelShape {
  int32_t dimension = 0;
  int32_t num_labels = 0;
  bool supervised = false;
};

// Reads the fixed-width little-endian fields fastText writes, on top of ByteReader.
class FieldReader {
 public:
  explicit FieldReader(std::string_view bytes) : reader_(bytes), size_(bytes.size()) {}

  size_t offset() const { return size_ - reader_.rest().size(); }
  size_t left() const { return reader_.rest().size(); }

  bool Int32(int32_t* v) {
    uint32_t u;
    if (!reader_.GetFixed32(&u)) return false;
    *v = static_cast<int32_t>(u);
    return true;
  }
  bool Int64(int64_t* v) {
    uint64_t u;
    if (!reader_.GetFixed64(&u)) return false;
    *v = static_cast<int64_t>(u);
    return true;
  }
  bool Double(double* v) { return reader_.GetDouble(v); }
  bool Byte(uint8_t* v) { return reader_.GetByte(v); }
  // A NUL-terminated string (the terminator is consumed).
  bool CString() {
    size_t end = reader_.rest().find('\0');
    return end != std::string_view::npos && Skip(end + 1);
  }
  // The next n bytes, not consumed. REQUIRES: n <= left().
  std::string_view Peek(size_t n) const { return reader_.rest().substr(0, n); }
  bool Skip(size_t n) {
    if (n > left()) return false;
    reader_ = byte_codec::ByteReader(reader_.rest().substr(n));
    return true;
  }

 private:
  byte_codec::ByteReader reader_;
  size_t size_;
};

// Checks that `bytes` is a complete, consistent, unquantized fastText 0.9 model, so fastText's
// loader reads only what is there and the matrices cover every row the model can index.
Result<ModelShape> CheckStructure(std::string_view bytes) {
  FieldReader in(bytes);
  auto truncated = [&](std::string_view where) {
    return Status::InvalidArgument(
        fmt::format("truncated in the {} ({} bytes in all)", where, bytes.size()));
  };
  int32_t magic = 0, version = 0;
  if (!in.Int32(&magic) || magic != kMagic) {
    return Status::InvalidArgument("not a fastText model (no fastText magic number)");
  }
  if (!in.Int32(&version)) return truncated("header");
  if (version != kVersion) {
    return Status::InvalidArgument(fmt::format(
        "fastText format version {} is not supported (expected {})", version, kVersion));
  }
  // Args::save: twelve int32 fields, then the double `t`.
  int32_t dim, ws, epoch, min_count, neg, word_ngrams, loss, model, bucket, minn, maxn, lr_rate;
  double sampling;
  for (int32_t* field : {&dim, &ws, &epoch, &min_count, &neg, &word_ngrams, &loss, &model, &bucket,
                         &minn, &maxn, &lr_rate}) {
    if (!in.Int32(field)) return truncated("arguments");
  }
  if (!in.Double(&sampling)) return truncated("arguments");
  auto bad_args = [](std::string_view what, int64_t value) {
    return Status::InvalidArgument(fmt::format("bad {} {} in the model's arguments", what, value));
  };
  if (dim < 1 || dim > kMaxDimension) return bad_args("dimension", dim);
  if (loss < kLossMin || loss > kLossMax) return bad_args("loss", loss);
  if (model < kModelMin || model > kModelSupervised) return bad_args("model type", model);
  if (bucket < 0) return bad_args("bucket count", bucket);
  if (word_ngrams < 1) return bad_args("wordNgrams", word_ngrams);
  if (minn < 0 || maxn < 0) return bad_args("character n-gram length", std::min(minn, maxn));
  // fastText hashes n-grams modulo the bucket count.
  if (bucket == 0 && (maxn > 0 || word_ngrams > 1)) return bad_args("bucket count", bucket);

  // Dictionary::save: size, nwords, nlabels, ntokens, pruneidx_size, then the entries.
  int32_t size, nwords, nlabels;
  int64_t ntokens, pruneidx_size;
  if (!in.Int32(&size) || !in.Int32(&nwords) || !in.Int32(&nlabels) || !in.Int64(&ntokens) ||
      !in.Int64(&pruneidx_size)) {
    return truncated("dictionary header");
  }
  if (nwords < 0 || nlabels < 0 || size != int64_t{nwords} + nlabels) {
    return Status::InvalidArgument(fmt::format(
        "dictionary sizes disagree: {} entries, {} words, {} labels", size, nwords, nlabels));
  }
  if (pruneidx_size >= 0) {
    return Status::InvalidArgument("pruned (quantized) fastText models are not supported");
  }
  for (int32_t i = 0; i < size; ++i) {
    int64_t count;
    uint8_t type;
    if (!in.CString() || !in.Int64(&count) || !in.Byte(&type)) {
      return truncated(fmt::format("dictionary (entry {} of {})", i, size));
    }
    // Words come first, then labels (entry_type word = 0, label = 1).
    if (type != (i < nwords ? 0 : 1) || count < 0 || count > kMaxCount) {
      return Status::InvalidArgument(
          fmt::format("bad dictionary entry {} at byte {}", i, in.offset()));
    }
  }
  // fastText sizes its output layer by these (and its hierarchical-softmax tree as 2n - 1).
  if (model == kModelSupervised && nlabels == 0) {
    return Status::InvalidArgument("supervised model without labels");
  }
  if (model != kModelSupervised && nwords == 0) {
    return Status::InvalidArgument("word-vector model without words");
  }

  // The input matrix (one row per word and hash bucket), then the output matrix (one row per
  // label for classifiers, per word otherwise); each a bool "quantized" flag, then a
  // DenseMatrix: int64 rows, int64 columns, rows * columns floats.
  auto matrix = [&](std::string_view name, int64_t rows) -> Status {
    uint8_t quantized;
    int64_t m, n;
    if (!in.Byte(&quantized)) return truncated(name);
    if (quantized != 0) {
      return Status::InvalidArgument("quantized fastText models (.ftz) are not supported");
    }
    if (!in.Int64(&m) || !in.Int64(&n)) return truncated(name);
    if (m != rows || n != dim) {
      return Status::InvalidArgument(
          fmt::format("the {} is {} x {}, expected {} x {}", name, m, n, rows, dim));
    }
    if (static_cast<uint64_t>(m) > in.left() / sizeof(float) / static_cast<uint64_t>(n)) {
      return truncated(name);
    }
    const size_t values = static_cast<size_t>(m * n);
    std::string_view data = in.Peek(values * sizeof(float));
    for (size_t i = 0; i < values; ++i) {
      float value;
      std::memcpy(&value, data.data() + i * sizeof(float), sizeof(float));
      if (!std::isfinite(value)) {
        return Status::InvalidArgument(fmt::format("non-finite weight {} in row {} of the {}",
                                                   value, i / static_cast<size_t>(n), name));
      }
    }
    in.Skip(data.size());
    return Status::Ok();
  };
  RETURN_IF_ERROR(matrix("input matrix", int64_t{nwords} + bucket));
  RETURN_IF_ERROR(matrix("output matrix", model == kModelSupervised ? nlabels : nwords));
  if (in.left() != 0) {
    return Status::InvalidArgument(
        fmt::format("{} unexpected bytes after the model at byte {}", in.left(), in.offset()));
  }
  return ModelShape{dim, nlabels, model == kModelSupervised};
}

// fastText reads one text per line, as the CLI does: line breaks inside a text become spaces,
// and the text ends with one (which fastText's classifier reads as its end-of-sentence token).
std::string OneLine(const std::string& text) {
  std::string line = text;
  for (char& c : line) {
    if (c == '\n') c = ' ';
  }
  line.push_back('\n');
  return line;
}

// For word-vector models: the text's whitespace-separated tokens (split as fastText splits them
// there) without those the dictionary holds as labels, one line. fastText asserts, aborting the
// process, when asked for the word vector of a label; a label has none, so it is left out.
std::string WordsOnly(const fasttext::Dictionary& dictionary, const std::string& text) {
  std::istringstream tokens(text);
  std::string token, line;
  while (tokens >> token) {
    if (dictionary.getId(token) >= dictionary.nwords()) continue;  // a label
    if (!line.empty()) line.push_back(' ');
    line += token;
  }
  line.push_back('\n');
  return line;
}

}  // namespace

// fastText's loader reads the header through the protected checkModel(); loading from memory
// (the bytes that were checked) needs it too.
class FasttextRuntime::Model : public fasttext::FastText {
 public:
  // Throws what fastText throws.
  void LoadFromBytes(const std::string& bytes) {
    std::istringstream in(bytes);
    if (!checkModel(in)) throw std::invalid_argument("fastText rejected the header");
    loadModel(in);
  }
};

FasttextRuntime::FasttextRuntime() = default;
FasttextRuntime::~FasttextRuntime() = default;

Status FasttextRuntime::Load(const std::string& artifact_path) {
  if (model_) return Status::FailedPrecondition("fasttext runtime is already loaded");
  ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(artifact_path));
  Result<ModelShape> shape = CheckStructure(bytes);
  if (!shape.ok()) {
    return Status::InvalidArgument(
        fmt::format("fasttext model {}: {}", artifact_path, shape.status().message()));
  }
  auto model = std::make_unique<Model>();
  try {
    model->LoadFromBytes(bytes);
  } catch (const std::exception& e) {
    return Status::InvalidArgument(fmt::format("fasttext model {}: {}", artifact_path, e.what()));
  } catch (...) {
    return Status::InvalidArgument(
        fmt::format("fasttext model {}: unknown error while loading", artifact_path));
  }
  model_ = std::move(model);
  dimension_ = shape->dimension;
  num_labels_ = shape->supervised ? shape->num_labels : 0;
  supervised_ = shape->supervised;
  return Status::Ok();
}

Status FasttextRuntime::Predict(const float* rows, size_t n_rows, size_t n_cols,
                                std::vector<float>* out) const {
  if (!model_) return Status::FailedPrecondition("fasttext runtime: Predict before Load");
  return WrongInput(RuntimeInput::kFeatureRows);
}

Status FasttextRuntime::PredictText(const std::vector<std::string>& texts, int32_t k,
                                    float threshold,
                                    std::vector<std::vector<TextLabel>>* out) const {
  if (!model_) return Status::FailedPrecondition("fasttext runtime: PredictText before Load");
  if (!supervised_) {
    return Status::FailedPrecondition(
        "fasttext model is a word-vector model, not a classifier: only sentence vectors");
  }
  if (k < 1) return Status::InvalidArgument(fmt::format("k must be at least 1, got {}", k));
  std::vector<std::vector<TextLabel>> result(texts.size());
  std::vector<std::pair<fasttext::real, std::string>> predictions;
  try {
    for (size_t i = 0; i < texts.size(); ++i) {
      std::istringstream in(OneLine(texts[i]));
      model_->predictLine(in, predictions, k, threshold);
      result[i].reserve(predictions.size());
      for (auto& [probability, label] : predictions) {
        result[i].push_back(TextLabel{std::move(label), probability});
      }
    }
  } catch (const std::exception& e) {
    return Status::Internal(fmt::format("fasttext predict: {}", e.what()));
  }
  *out = std::move(result);
  return Status::Ok();
}

Status FasttextRuntime::SentenceVectors(const std::vector<std::string>& texts,
                                        std::vector<float>* out) const {
  if (!model_) return Status::FailedPrecondition("fasttext runtime: SentenceVectors before Load");
  std::vector<float> result;
  result.reserve(texts.size() * static_cast<size_t>(dimension_));
  fasttext::Vector vector(dimension_);
  try {
    std::lock_guard<std::mutex> lock(sentence_mu_);
    for (const std::string& text : texts) {
      std::istringstream in(supervised_ ? OneLine(text)
                                        : WordsOnly(*model_->getDictionary(), text));
      model_->getSentenceVector(in, vector);
      result.insert(result.end(), vector.data(), vector.data() + vector.size());
    }
  } catch (const std::exception& e) {
    return Status::Internal(fmt::format("fasttext sentence vector: {}", e.what()));
  }
  *out = std::move(result);
  return Status::Ok();
}

}  // namespace freshet
