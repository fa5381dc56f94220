#pragma once
// Runs PromQL test scripts in the format of Prometheus' promql/testdata/*.test files:
//
//   load 5m                                   # samples every 5 minutes from t=0
//     http_requests{path="/foo"} 0+10x10       # 0 10 20 ... 100; also `_` (gap), `stale`
//   eval instant at 50m rate(http_requests[50m])
//     {path="/foo"} 0.03333333333333333
//   eval range from 0 to 10m step 5m sum(http_requests)
//     {} 0 30 _                                # one value per step, `_` = no point
//   eval_fail instant at 0m <expr>             # must fail (parse or execution error)
//   clear
//
// The loaded samples are the evaluator's input (a Storage holding exactly the script's
// series); results are compared as sets of series, values with a relative tolerance of 1e-6
// (NaN equals NaN), as Prometheus' test runner does.
#include <string>
#include <vector>

namespace promql_test {

struct ScriptFailure {
  int line = 0;
  std::string message;
};

// Every failed expectation in the script (empty when it passes).
std::vector<ScriptFailure> run_script(const std::string& text);
std::vector<ScriptFailure> run_script_file(const std::string& path);

}  // namespace promql_test
