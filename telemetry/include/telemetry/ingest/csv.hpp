#pragma once
// Streaming CSV reading for telemetry exports.
//
// CsvParser is an RFC 4180 tokenizer that accepts input in arbitrary pieces (quotes, doubled
// quotes, CR, LF and CRLF line ends, fields with embedded newlines, a UTF-8 BOM at the start).
// Guarantee: splitting the input anywhere gives the same records as feeding it at once.
//
// TelemetryCsvReader maps the header by column name and turns records into rows of the two
// supported formats:
//   * DCGM long: timestamp,metric_name,gpu_id,device,uuid,modelName,Hostname,container,pod,
//     namespace,value,labels_raw -- one metric per row; labels_raw (`k="v",...`) becomes labels.
//   * wide: gpu_id,<metric>,<metric>,... -- one sample per metric column.
// A bad row (wrong column count, non-numeric or non-finite value, missing id, broken quoting)
// is counted, logged with its line number and skipped; it never stops the reader.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tl/expected.hpp>

#include "telemetry/error.hpp"
#include "telemetry/model.hpp"

namespace rm::telemetry {

struct CsvRecord {
  std::vector<std::string> fields;
  std::size_t line = 0;  // 1-based physical line where the record starts
  std::string error;     // non-empty when the record is malformed (e.g. text after a quote)
};

class CsvParser {
 public:
  // Records longer than this are reported as malformed instead of growing without bound.
  explicit CsvParser(std::size_t max_record_bytes = 1U << 20) : max_record_(max_record_bytes) {}
  // Appends every record completed by `chunk` to `out`. Blank lines produce no record.
  void feed(std::string_view chunk, std::vector<CsvRecord>& out);
  // End of input: flushes a last record without a trailing newline; an open quote is an error.
  void finish(std::vector<CsvRecord>& out);

 private:
  enum class State { field_start, unquoted, quoted, quote_in_quoted, after_cr };
  void end_field();
  void end_record(std::vector<CsvRecord>& out);
  void append(char c);
  void consume(char c, std::vector<CsvRecord>& out);
  // ',' ends the field, '\n' and '\r' the record (outside quotes); false for any other byte.
  bool separator(char c, std::vector<CsvRecord>& out);

  std::size_t max_record_;
  State state_ = State::field_start;
  CsvRecord cur_;
  std::string field_;
  std::size_t record_bytes_ = 0;
  std::size_t line_ = 1;
  bool record_started_ = false;
  std::size_t bom_seen_ = 0;  // bytes of the BOM matched so far (3 = done)
  bool bom_done_ = false;
};

enum class CsvFormat { dcgm_long, wide };

struct CsvRow {
  std::size_t line = 0;
  GpuInfo gpu;
  std::vector<std::pair<std::string, double>> metrics;  // (metric name, value)
};

struct CsvBadRow {
  std::size_t line = 0;
  std::string reason;
};

struct CsvStats {
  std::uint64_t rows_ok = 0;
  std::uint64_t rows_bad = 0;
  std::vector<CsvBadRow> bad;  // the first 100 bad rows, for reports and tests
};

class TelemetryCsvReader {
 public:
  explicit TelemetryCsvReader(std::string source_name = "<csv>");
  // Parses `chunk`; complete rows are appended to `out`. Fails (invalid_argument) only for a
  // header that matches neither format (the message lists the expected columns).
  [[nodiscard]] Status feed(std::string_view chunk, std::vector<CsvRow>& out);
  [[nodiscard]] Status finish(std::vector<CsvRow>& out);
  const CsvStats& stats() const { return stats_; }
  CsvFormat format() const { return format_; }

 private:
  [[nodiscard]] Status handle(std::vector<CsvRecord>& recs, std::vector<CsvRow>& out);
  [[nodiscard]] Status header(const CsvRecord& rec);
  void row(const CsvRecord& rec, std::vector<CsvRow>& out);
  void bad(std::size_t line, std::string reason);

  std::string source_;
  CsvParser parser_;
  std::vector<CsvRecord> pending_;
  bool have_header_ = false;
  CsvFormat format_ = CsvFormat::dcgm_long;
  std::vector<std::string> header_;
  // Column positions (-1 = absent).
  int c_metric_ = -1, c_gpu_ = -1, c_uuid_ = -1, c_device_ = -1, c_model_ = -1, c_host_ = -1, c_value_ = -1,
      c_labels_ = -1;
  std::vector<int> metric_cols_;  // wide format
  CsvStats stats_;
};

// Reads a whole file. Errors: not_found/io (the file cannot be opened or read),
// invalid_argument (an unusable header, an empty file), naming the file and what to do.
[[nodiscard]] Result<std::vector<CsvRow>> read_telemetry_csv(const std::string& path,
                                                             CsvStats* stats = nullptr);

// Parses DCGM's labels_raw (`k="v",k2="v2"`, backslash escapes inside values). Malformed
// trailing input is ignored; what parsed before it is kept.
std::vector<std::pair<std::string, std::string>> parse_labels_raw(std::string_view raw);

// Strict number parsing for CSV values: surrounding blanks allowed, must be finite.
bool parse_finite_double(std::string_view text, double& out);

}  // namespace rm::telemetry
