// Scripts of cases taken from Prometheus 2.42's own test data (promql/testdata), run against
// this evaluator: each script passes only if every expectation in it holds.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "script.hpp"

namespace {

void run(const char* name) {
  const std::string path = std::string(RM_PROMQL_TESTDATA) + "/" + name;
  for (const auto& f : promql_test::run_script_file(path)) {
    ADD_FAILURE() << fmt::format("{}:{}: {}", name, f.line, f.message);
  }
}

}  // namespace

TEST(PrometheusSemantics, lookback_delta_and_staleness_markers_hide_series_as_prometheus_does) {
  run("staleness.test");
}
TEST(PrometheusSemantics, label_matchers_and_offset_select_as_prometheus_does) {
  run("selectors.test");
}
TEST(PrometheusSemantics, rate_increase_irate_delta_extrapolate_as_prometheus_does) {
  run("rate.test");
}
TEST(PrometheusSemantics, over_time_functions_match_prometheus) {
  run("over_time.test");
}
TEST(PrometheusSemantics, aggregations_with_by_without_and_topk_match_prometheus) {
  run("aggregators.test");
}
TEST(PrometheusSemantics, operators_precedence_and_vector_matching_match_prometheus) {
  run("operators.test");
}
TEST(PrometheusSemantics, range_queries_evaluate_exactly_at_start_plus_multiples_of_step) {
  run("range.test");
}

TEST(PrometheusSemantics, a_wrong_expectation_in_a_script_is_reported_with_its_line) {
  auto failures = promql_test::run_script("load 1m\n  m 1 2\n\neval instant at 1m m\n  m 3\n");
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0].line, 4);
}
