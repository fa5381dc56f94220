#pragma once
// Internal to the Silero model: the tensors read from a weights file (silero_weights.cpp) and
// the step that lays them out for the forward pass (silero_model_build.cpp).
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "nodes/silero_model.hpp"

namespace rm::nodes {

namespace detail {

struct SileroTensor {
  std::vector<std::uint32_t> shape;
  std::vector<float> data;
};
using SileroTensors = std::map<std::string, SileroTensor, std::less<>>;

inline tl::unexpected<SileroWeightsLoadError> load_error(SileroWeightsError code, std::string msg) {
  return tl::unexpected(SileroWeightsLoadError{code, std::move(msg)});
}

// "(2, 3, 4)"
std::string shape_string(const std::vector<std::uint32_t>& s);

}  // namespace detail

// Checks every tensor the model needs (name and shape) and builds both branches: matrices
// padded or packed for the kernels, conv taps that only see padding dropped, the STFT set up
// as an FFT when the basis allows it.
struct SileroModelBuilder {
  static tl::expected<std::shared_ptr<const SileroModel>, SileroWeightsLoadError> build(
      const std::filesystem::path& path, detail::SileroTensors& tensors, std::string metadata);
};

}  // namespace rm::nodes
