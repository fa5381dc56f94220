#pragma once
// Shared helpers for the Silero tests: reference files written by the fixture
// (scripts/fetch-silero-model.sh --references), and the skip-or-fail rule for a missing model.
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/node.hpp"

namespace silero_test {

inline std::filesystem::path ref_dir() {
  return RM_SILERO_REF_DIR;
}
inline std::filesystem::path weights_path() {
  return ref_dir() / "silero_vad_v5.rmw";
}

inline bool model_required() {
  const char* ci = std::getenv("CI");
  const char* req = std::getenv("RM_REQUIRE_MODELS");
  return (ci && std::string(ci) == "true") || (req && std::string(req) == "1");
}

inline std::vector<float> read_f32(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<float> out(bytes.size() / sizeof(float));
  std::memcpy(out.data(), bytes.data(), out.size() * sizeof(float));
  return out;
}

// Collects everything a node emits.
struct Collect final : rm::runtime::Emitter {
  std::vector<rm::runtime::DataPtr> items;
  rm::runtime::Status emit(rm::runtime::DataPtr d) override {
    items.push_back(std::move(d));
    return {};
  }
};

}  // namespace silero_test

// Skips when the model could not be fetched, except where it is required (then fails).
#define SILERO_REQUIRE_MODEL()                                                       \
  do {                                                                               \
    if (!std::filesystem::exists(silero_test::weights_path()) ||                     \
        !std::filesystem::exists(silero_test::ref_dir() / "speech16.probs")) {       \
      if (silero_test::model_required()) {                                           \
        FAIL() << "Silero model/references missing in " << silero_test::ref_dir()    \
               << " (run scripts/fetch-silero-model.sh --references DIR)";           \
      }                                                                              \
      GTEST_SKIP() << "Silero model not fetched; run scripts/fetch-silero-model.sh"; \
    }                                                                                \
  } while (0)
