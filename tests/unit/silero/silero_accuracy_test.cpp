// The C++ forward pass against onnxruntime on the same model and audio: per-window speech
// probabilities agree within 1e-4 (max abs) over recorded speech and over silence/noise, at
// 16 kHz and 8 kHz. References come from tests/fixtures/silero/oracle.mjs via the fixture.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ostream>
#include <string>

#include <gtest/gtest.h>

#include "nodes/silero_model.hpp"
#include "silero_test_util.hpp"

namespace {

using rm::nodes::SileroModel;
using rm::nodes::SileroRate;
using rm::nodes::SileroStream;

struct Case {
  const char* name;  // speech16, noise8, ...
  SileroRate rate;
};
void PrintTo(const Case& c, std::ostream* os) {
  *os << c.name;
}

class SileroAccuracy : public ::testing::TestWithParam<Case> {};

TEST_P(SileroAccuracy, probabilities_match_onnxruntime_within_1e_4) {
  SILERO_REQUIRE_MODEL();
  const Case c = GetParam();
  auto model = SileroModel::load(silero_test::weights_path());
  ASSERT_TRUE(model) << model.error().message;
  const auto audio = silero_test::read_f32(silero_test::ref_dir() / (std::string(c.name) + ".f32"));
  const auto ref = silero_test::read_f32(silero_test::ref_dir() / (std::string(c.name) + ".probs"));
  SileroStream stream(*model, c.rate);
  const std::size_t w = stream.window_samples();
  ASSERT_EQ(ref.size(), audio.size() / w);
  ASSERT_GT(ref.size(), 200U);
  double worst = 0.0;
  std::size_t worst_at = 0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    const float p = stream.process_window({audio.data() + i * w, w});
    const double d = std::fabs(static_cast<double>(p) - ref[i]);
    if (d > worst) {
      worst = d;
      worst_at = i;
    }
  }
  EXPECT_LE(worst, 1e-4) << c.name << ": worst window " << worst_at << " of " << ref.size();
  char worst_text[32];
  std::snprintf(worst_text, sizeof worst_text, "%.2e", worst);
  RecordProperty("max_abs_diff", worst_text);
  // The signals are what they claim to be, so the comparison covers both regimes.
  const float top = *std::max_element(ref.begin(), ref.end());
  if (std::string(c.name).starts_with("speech")) {
    EXPECT_GT(top, 0.9F);
  } else {
    EXPECT_LT(top, 0.5F);
  }
}

TEST_P(SileroAccuracy, reset_gives_the_same_probabilities_as_a_new_stream) {
  SILERO_REQUIRE_MODEL();
  const Case c = GetParam();
  auto model = SileroModel::load_shared(silero_test::weights_path());
  ASSERT_TRUE(model) << model.error().message;
  const auto audio = silero_test::read_f32(silero_test::ref_dir() / (std::string(c.name) + ".f32"));
  SileroStream stream(*model, c.rate);
  const std::size_t w = stream.window_samples();
  std::vector<float> first;
  for (std::size_t i = 0; i + w <= audio.size() && i < 100 * w; i += w) {
    first.push_back(stream.process_window({audio.data() + i, w}));
  }
  stream.reset();
  for (std::size_t k = 0; k < first.size(); ++k) {
    EXPECT_EQ(stream.process_window({audio.data() + k * w, w}), first[k]) << "window " << k;
  }
}

INSTANTIATE_TEST_SUITE_P(AllSignals, SileroAccuracy,
                         ::testing::Values(Case{"speech16", SileroRate::k16000},
                                           Case{"noise16", SileroRate::k16000},
                                           Case{"speech8", SileroRate::k8000},
                                           Case{"noise8", SileroRate::k8000}),
                         [](const ::testing::TestParamInfo<Case>& tp) { return std::string(tp.param.name); });

}  // namespace
