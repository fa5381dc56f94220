#include <set>

#include <gtest/gtest.h>

#include "telemetry/ingest/csv.hpp"

using namespace rm::telemetry;

namespace {

std::vector<CsvRecord> parse_all(std::string_view in) {
  CsvParser p;
  std::vector<CsvRecord> out;
  p.feed(in, out);
  p.finish(out);
  return out;
}

std::vector<std::vector<std::string>> fields(const std::vector<CsvRecord>& recs) {
  std::vector<std::vector<std::string>> out;
  for (const auto& r : recs) out.push_back(r.fields);
  return out;
}

const char* kTricky =
    "\xEF\xBB\xBF"
    "a,b,c\r\n"
    "\"x,1\",\"say \"\"hi\"\"\",plain\r\n"
    "\"multi\nline\",,\"\"\n"
    "\n"
    "last,row,here";

}  // namespace

TEST(CsvParser, handles_quotes_doubled_quotes_crlf_bom_and_embedded_newlines) {
  auto recs = parse_all(kTricky);
  ASSERT_EQ(recs.size(), 4u);
  EXPECT_EQ(recs[0].fields, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(recs[1].fields, (std::vector<std::string>{"x,1", "say \"hi\"", "plain"}));
  EXPECT_EQ(recs[2].fields, (std::vector<std::string>{"multi\nline", "", ""}));
  EXPECT_EQ(recs[3].fields, (std::vector<std::string>{"last", "row", "here"}));
  EXPECT_EQ(recs[0].line, 1u);
  EXPECT_EQ(recs[2].line, 3u);
  EXPECT_EQ(recs[3].line, 6u);
}

TEST(CsvParser, splitting_the_input_at_every_byte_gives_the_same_records) {
  const std::string in = kTricky;
  const auto whole = fields(parse_all(in));
  for (std::size_t cut = 0; cut <= in.size(); ++cut) {
    CsvParser p;
    std::vector<CsvRecord> out;
    p.feed(std::string_view(in).substr(0, cut), out);
    p.feed(std::string_view(in).substr(cut), out);
    p.finish(out);
    ASSERT_EQ(fields(out), whole) << "split at byte " << cut;
  }
}

TEST(CsvParser, text_after_a_closing_quote_and_an_open_quote_at_eof_are_errors) {
  auto recs = parse_all("\"ab\"c,d\n\"open");
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_NE(recs[0].error.find("after a closing quote"), std::string::npos);
  EXPECT_NE(recs[1].error.find("unterminated"), std::string::npos);
}

TEST(TelemetryCsv, dcgm_rows_use_the_uuid_as_identity_and_parse_labels_raw) {
  const std::string csv =
      "timestamp,metric_name,gpu_id,device,uuid,modelName,Hostname,container,pod,namespace,value,labels_raw\n"
      "\"2025-07-18T20:42:34Z\",\"DCGM_FI_DEV_GPU_UTIL\",\"0\",\"nvidia0\",\"GPU-5fd4\",\"NVIDIA H100 80GB "
      "HBM3\","
      "\"host-31\",\"\",\"\",\"\",\"42.5\",\"DCGM_FI_DRIVER_VERSION=\"\"535.129.03\"\",Hostname=\"\"host-"
      "31\"\","
      "__name__=\"\"DCGM_FI_DEV_GPU_UTIL\"\"\"\n";
  TelemetryCsvReader r;
  std::vector<CsvRow> rows;
  ASSERT_TRUE(r.feed(csv, rows));
  ASSERT_TRUE(r.finish(rows));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(r.format(), CsvFormat::dcgm_long);
  EXPECT_EQ(rows[0].gpu.id, "GPU-5fd4");
  EXPECT_EQ(rows[0].gpu.gpu_index, "0");
  EXPECT_EQ(rows[0].gpu.hostname, "host-31");
  EXPECT_EQ(rows[0].gpu.model, "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(rows[0].gpu.labels.at("DCGM_FI_DRIVER_VERSION"), "535.129.03");
  EXPECT_EQ(rows[0].gpu.labels.count("__name__"), 0u);
  ASSERT_EQ(rows[0].metrics.size(), 1u);
  EXPECT_EQ(rows[0].metrics[0].first, "DCGM_FI_DEV_GPU_UTIL");
  EXPECT_DOUBLE_EQ(rows[0].metrics[0].second, 42.5);
}

TEST(TelemetryCsv, wide_rows_give_one_sample_per_metric_column) {
  TelemetryCsvReader r;
  std::vector<CsvRow> rows;
  ASSERT_TRUE(r.feed("gpu_id,utilization,temperature,memory_used\ngpu-001,85.5,72.3,4096\n", rows));
  ASSERT_TRUE(r.finish(rows));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(r.format(), CsvFormat::wide);
  EXPECT_EQ(rows[0].gpu.id, "gpu-001");
  ASSERT_EQ(rows[0].metrics.size(), 3u);
  EXPECT_EQ(rows[0].metrics[2].first, "memory_used");
  EXPECT_DOUBLE_EQ(rows[0].metrics[2].second, 4096);
}

TEST(TelemetryCsv, bad_rows_are_counted_with_their_line_numbers_and_skipped) {
  TelemetryCsvReader r;
  std::vector<CsvRow> rows;
  ASSERT_TRUE(
      r.feed("gpu_id,utilization,temperature\n"
             "g1,1,2\n"
             "g2,1\n"      // line 3: wrong column count
             "g3,abc,2\n"  // line 4: not numeric
             "g4,nan,2\n"  // line 5: not finite
             ",1,2\n"      // line 6: missing id
             "g7,inf,2\n"  // line 7: not finite
             "g8,3,4\n",
             rows));
  ASSERT_TRUE(r.finish(rows));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(r.stats().rows_ok, 2u);
  EXPECT_EQ(r.stats().rows_bad, 5u);
  std::vector<std::size_t> lines;
  for (const auto& b : r.stats().bad) lines.push_back(b.line);
  EXPECT_EQ(lines, (std::vector<std::size_t>{3, 4, 5, 6, 7}));
  EXPECT_NE(r.stats().bad[1].reason.find("abc"), std::string::npos);
}

TEST(TelemetryCsv, an_unknown_header_is_an_error_naming_the_expected_columns) {
  TelemetryCsvReader r;
  std::vector<CsvRow> rows;
  auto res = r.feed("foo,bar\n1,2\n", rows);
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().code, TelemetryErrc::invalid_argument);
  EXPECT_NE(res.error().message.find("gpu_id"), std::string::npos);
}

TEST(TelemetryCsv, the_real_dcgm_export_has_247_gpus_on_31_hosts) {
  CsvStats stats;
  auto rows =
      read_telemetry_csv(std::string(RM_SOURCE_DIR) + "/tests/data/dcgm_metrics_20250718_134233.csv", &stats);
  ASSERT_TRUE(rows) << rows.error().message;
  std::set<std::string> gpus, hosts;
  for (const auto& r : *rows) {
    gpus.insert(r.gpu.id);
    hosts.insert(r.gpu.hostname);
  }
  EXPECT_EQ(rows->size(), 2470u);
  EXPECT_EQ(stats.rows_bad, 0u);
  EXPECT_EQ(gpus.size(), 247u);
  EXPECT_EQ(hosts.size(), 31u);
}

TEST(TelemetryCsv, a_missing_file_is_an_error_naming_the_path) {
  auto rows = read_telemetry_csv("/nonexistent/telemetry.csv");
  ASSERT_FALSE(rows);
  EXPECT_EQ(rows.error().code, TelemetryErrc::not_found);
  EXPECT_NE(rows.error().message.find("/nonexistent/telemetry.csv"), std::string::npos);
}
