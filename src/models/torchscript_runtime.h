// TorchscriptRuntime ("torchscript"): TorchScript modules saved with torch.jit.save, run by
// LibTorch 1.13 (Debian libtorch) on the CPU. forward() takes one float32 tensor
// [n_rows, n_cols] and returns one tensor of [n_rows] or [n_rows, k] numbers (converted to
// float); any other output is kInvalidArgument. The module is switched to eval mode at Load.
// A module may state its input width in an int attribute `num_features`; Load then runs it on
// one all-zero row, so a module that cannot score is refused at registration.
//
// Every LibTorch error (c10::Error) or other exception is caught here and becomes a Status; none
// leaves this class. A file that is not a TorchScript archive (not a zip, truncated, no
// forward) is kInvalidArgument.
//
// Threads: Predict runs under c10::InferenceMode on the calling thread, with LibTorch's
// intra-op parallelism set to 1 for that thread (at::set_num_threads(1) on its first Predict):
// concurrency comes from the serving threads, one batch each, as for XgboostRuntime; an
// intra-op pool per request would oversubscribe the cores.
//
// Thread-safety: as ModelRuntime. Concurrent Predict calls run in parallel (TorchScript
// supports concurrent forward calls on one module); each works on its own copy of the input.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "models/model_runtime.h"

namespace freshet {

// Its .cc is compiled as C++17 (src/models/CMakeLists.txt); this header is C++17 and C++20.
class TorchscriptRuntime final : public ModelRuntime {
 public:
  static constexpr std::string_view kName = "torchscript";

  TorchscriptRuntime();
  ~TorchscriptRuntime() override;

  std::string_view name() const override { return kName; }
  Status Load(const std::string& artifact_path) override;
  Status Predict(const float* rows, size_t n_rows, size_t n_cols,
                 std::vector<float>* out) const override;
  int64_t num_features() const override { return num_features_; }
  // LibTorch's TORCH_VERSION.
  std::string library_version() const override;

 private:
  class Module;  // torch::jit::Module, kept out of this header (LibTorch's headers are heavy)

  // Predict without the Load and argument checks; catches every exception.
  Status Run(const float* rows, size_t n_rows, size_t n_cols, std::vector<float>* out) const;

  std::unique_ptr<Module> module_;
  int64_t num_features_ = -1;
};

}  // namespace freshet
