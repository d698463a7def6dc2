#include "models/torchscript_runtime.h"

#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <fmt/format.h>
#include <torch/script.h>
#include <torch/version.h>

#include <exception>
#include <sstream>

#include "models/artifact_file.h"

namespace freshet {
namespace {

// torch.jit.save writes a zip archive; its first local file header starts with these bytes.
constexpr std::string_view kZipMagic = "PK\x03\x04";

// LibTorch's messages end in a C++ backtrace; the first line says what went wrong.
std::string FirstLine(const char* message) {
  std::string text = message;
  size_t end = text.find('\n');
  if (end != std::string::npos) text.resize(end);
  return text;
}

// Sets this thread's intra-op parallelism to 1 once (see the header).
void SingleThreadedOps() {
  thread_local bool done = false;
  if (!done) {
    at::set_num_threads(1);
    done = true;
  }
}

std::string ShapeText(const at::Tensor& tensor) {
  return fmt::format("[{}]", fmt::join(tensor.sizes(), ", "));
}

}  // namespace

class TorchscriptRuntime::Module {
 public:
  explicit Module(torch::jit::Module module) : module_(std::move(module)) {}
  // A shallow copy: the same module, whose forward may run on several threads at once.
  torch::jit::Module Get() const { return module_; }

 private:
  torch::jit::Module module_;
};

TorchscriptRuntime::TorchscriptRuntime() = default;
TorchscriptRuntime::~TorchscriptRuntime() = default;

std::string TorchscriptRuntime::library_version() const { return TORCH_VERSION; }

Status TorchscriptRuntime::Load(const std::string& artifact_path) {
  if (module_) return Status::FailedPrecondition("torchscript runtime is already loaded");
  ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(artifact_path));
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument(fmt::format("torchscript model {}: {}", artifact_path, why));
  };
  if (std::string_view(bytes).substr(0, kZipMagic.size()) != kZipMagic) {
    return bad("not a TorchScript archive (torch.jit.save writes a zip file)");
  }
  int64_t features = -1;
  try {
    std::istringstream in(bytes);
    torch::jit::Module module = torch::jit::load(in, torch::kCPU);
    module.eval();
    if (!module.find_method("forward")) return bad("the module has no forward method");
    if (module.hasattr("num_features")) {
      c10::IValue value = module.attr("num_features");
      if (!value.isInt() || value.toInt() < 1) {
        return bad("attribute num_features must be a positive int");
      }
      features = value.toInt();
    }
    module_ = std::make_unique<Module>(std::move(module));
  } catch (const std::exception& e) {
    return bad(FirstLine(e.what()));
  } catch (...) {
    return bad("unknown error while loading");
  }
  num_features_ = features;
  if (num_features_ > 0) {
    std::vector<float> row(static_cast<size_t>(num_features_), 0.0f);
    std::vector<float> out;
    Status scored = Run(row.data(), 1, row.size(), &out);
    if (!scored.ok()) {  // Not loaded: a retry starts from scratch.
      module_.reset();
      num_features_ = -1;
      return bad(
          fmt::format("cannot score one row of {} features: {}", row.size(), scored.message()));
    }
  }
  return Status::Ok();
}

Status TorchscriptRuntime::Predict(const float* rows, size_t n_rows, size_t n_cols,
                                   std::vector<float>* out) const {
  if (!module_) return Status::FailedPrecondition("torchscript runtime: Predict before Load");
  if (num_features_ >= 0 && static_cast<int64_t>(n_cols) != num_features_) {
    return Status::InvalidArgument(
        fmt::format("torchscript model expects {} features, got {}", num_features_, n_cols));
  }
  if (n_rows == 0) {
    out->clear();
    return Status::Ok();
  }
  if (rows == nullptr) return Status::InvalidArgument("torchscript runtime: rows is null");
  return Run(rows, n_rows, n_cols, out);
}

Status TorchscriptRuntime::Run(const float* rows, size_t n_rows, size_t n_cols,
                               std::vector<float>* out) const {
  try {
    SingleThreadedOps();
    c10::InferenceMode inference;
    const auto n = static_cast<int64_t>(n_rows), cols = static_cast<int64_t>(n_cols);
    // A copy: the module may modify its input in place, and `rows` belongs to the caller.
    at::Tensor input =
        torch::from_blob(const_cast<float*>(rows), {n, cols}, torch::kFloat32).clone();
    c10::IValue result = module_->Get().forward({input});
    if (!result.isTensor()) {
      return Status::InvalidArgument(
          fmt::format("torchscript model returned {}, expected a tensor", result.tagKind()));
    }
    at::Tensor output = result.toTensor();
    bool shape_ok = (output.dim() == 1 || output.dim() == 2) && output.size(0) == n;
    if (!shape_ok || output.is_complex() || output.scalar_type() == at::kBool) {
      return Status::InvalidArgument(fmt::format(
          "torchscript model returned a {} tensor of shape {}; expected numbers of shape [{}] or "
          "[{}, k]",
          c10::toString(output.scalar_type()), ShapeText(output), n, n));
    }
    output = output.to(torch::kCPU, torch::kFloat32).contiguous();
    const float* data = output.data_ptr<float>();
    out->assign(data, data + output.numel());
    return Status::Ok();
  } catch (const std::exception& e) {
    return Status::InvalidArgument(fmt::format("torchscript predict: {}", FirstLine(e.what())));
  } catch (...) {
    return Status::Internal("torchscript predict: unknown error");
  }
}

}  // namespace freshet
