// CSV reader: arbitrary bytes never crash it, and splitting the input in two at an offset
// taken from the data gives the same rows and bad-row count as feeding it whole.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "telemetry/ingest/csv.hpp"

using namespace rm::telemetry;

namespace {
struct Result {
  bool ok = true;
  std::vector<std::pair<std::size_t, std::string>> rows;
  std::uint64_t bad = 0;
};
Result run(std::string_view a, std::string_view b) {
  TelemetryCsvReader r("fuzz");
  std::vector<CsvRow> rows;
  Result out;
  out.ok = r.feed(a, rows) && r.feed(b, rows) && r.finish(rows);
  for (auto& row : rows) out.rows.emplace_back(row.line, row.gpu.id);
  out.bad = r.stats().rows_bad;
  return out;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::size_t cut = in.empty() ? 0 : data[0] % (in.size() + 1);
  auto whole = run(in, {});
  auto split = run(in.substr(0, cut), in.substr(cut));
  if (whole.ok != split.ok || (whole.ok && (whole.rows != split.rows || whole.bad != split.bad)))
    std::abort();
  return 0;
}
