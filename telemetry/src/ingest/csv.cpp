#include "telemetry/ingest/csv.hpp"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>

#include <fmt/format.h>

#include "core/log.hpp"

namespace rm::telemetry {

// ---------------------------------------------------------------- CsvParser

void CsvParser::append(char c) {
  if (++record_bytes_ > max_record_) {
    if (cur_.error.empty()) cur_.error = fmt::format("record longer than {} bytes", max_record_);
    return;
  }
  field_.push_back(c);
}

void CsvParser::end_field() {
  cur_.fields.push_back(std::move(field_));
  field_.clear();
}

void CsvParser::end_record(std::vector<CsvRecord>& out) {
  end_field();
  const bool blank = cur_.fields.size() == 1 && cur_.fields[0].empty() && cur_.error.empty();
  if (!blank) out.push_back(std::move(cur_));
  cur_ = CsvRecord{};
  record_bytes_ = 0;
  record_started_ = false;
}

void CsvParser::consume(char c, std::vector<CsvRecord>& out) {
  if (!record_started_) {
    record_started_ = true;
    cur_.line = line_;
  }
  switch (state_) {
    case State::after_cr:
      // A CR ended the record; a following LF belongs to the same line end.
      state_ = State::field_start;
      record_started_ = false;
      if (c == '\n') {
        return;
      }
      record_started_ = true;
      cur_.line = line_;
      [[fallthrough]];
    case State::field_start:
      if (c == '"') {
        state_ = State::quoted;
        return;
      }
      state_ = State::unquoted;
      [[fallthrough]];
    case State::unquoted:
      if (!separator(c, out)) append(c);
      return;
    case State::quoted:
      if (c == '"') {
        state_ = State::quote_in_quoted;
      } else {
        if (c == '\n') ++line_;
        append(c);
      }
      return;
    case State::quote_in_quoted:
      if (c == '"') {  // doubled quote = one literal quote
        append('"');
        state_ = State::quoted;
      } else if (!separator(c, out)) {
        if (cur_.error.empty()) {
          cur_.error = fmt::format("unexpected '{}' after a closing quote", c);
        }
        append(c);
        state_ = State::unquoted;
      }
      return;
  }
}

bool CsvParser::separator(char c, std::vector<CsvRecord>& out) {
  if (c == ',') {
    end_field();
    state_ = State::field_start;
    return true;
  }
  if (c != '\n' && c != '\r') return false;
  ++line_;
  end_record(out);
  state_ = c == '\n' ? State::field_start : State::after_cr;
  return true;
}

void CsvParser::feed(std::string_view chunk, std::vector<CsvRecord>& out) {
  static constexpr char kBom[3] = {'\xEF', '\xBB', '\xBF'};
  std::size_t i = 0;
  while (!bom_done_ && i < chunk.size()) {
    if (chunk[i] == kBom[bom_seen_]) {
      ++i;
      if (++bom_seen_ == 3) bom_done_ = true;
      continue;
    }
    // Not a BOM: replay the bytes matched so far as data.
    bom_done_ = true;
    for (std::size_t k = 0; k < bom_seen_; ++k) consume(kBom[k], out);
  }
  for (; i < chunk.size(); ++i) consume(chunk[i], out);
}

void CsvParser::finish(std::vector<CsvRecord>& out) {
  if (!bom_done_) {
    bom_done_ = true;
    for (std::size_t k = 0; k < bom_seen_; ++k) consume("\xEF\xBB\xBF"[k], out);
  }
  if (state_ == State::quoted) {
    if (cur_.error.empty()) cur_.error = "unterminated quoted field at end of input";
    end_record(out);
  } else if (state_ != State::after_cr && record_started_) {
    end_record(out);
  }
  state_ = State::field_start;
  record_started_ = false;
}

// ---------------------------------------------------------------- helpers

bool parse_finite_double(std::string_view t, double& out) {
  while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
  while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.remove_suffix(1);
  if (!t.empty() && t.front() == '+') t.remove_prefix(1);
  if (t.empty()) return false;
  double v = 0;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec != std::errc() || p != t.data() + t.size() || !std::isfinite(v)) return false;
  out = v;
  return true;
}

std::vector<std::pair<std::string, std::string>> parse_labels_raw(std::string_view raw) {
  std::vector<std::pair<std::string, std::string>> out;
  std::size_t i = 0;
  while (i < raw.size()) {
    while (i < raw.size() && (raw[i] == ',' || raw[i] == ' ')) ++i;
    const std::size_t eq = raw.find('=', i);
    if (eq == std::string_view::npos || eq + 1 >= raw.size() || raw[eq + 1] != '"') break;
    std::string key(raw.substr(i, eq - i));
    std::string val;
    std::size_t j = eq + 2;
    bool closed = false;
    for (; j < raw.size(); ++j) {
      if (raw[j] == '\\' && j + 1 < raw.size()) {
        const char n = raw[++j];
        val.push_back(n == 'n' ? '\n' : n);
      } else if (raw[j] == '"') {
        closed = true;
        ++j;
        break;
      } else {
        val.push_back(raw[j]);
      }
    }
    if (!closed || key.empty()) break;
    out.emplace_back(std::move(key), std::move(val));
    i = j;
  }
  return out;
}

// ---------------------------------------------------------------- TelemetryCsvReader

TelemetryCsvReader::TelemetryCsvReader(std::string source_name) : source_(std::move(source_name)) {}

void TelemetryCsvReader::bad(std::size_t line, std::string reason) {
  ++stats_.rows_bad;
  core::logger("telemetry.csv")->warn("{}:{}: skipping bad row: {}", source_, line, reason);
  if (stats_.bad.size() < 100) stats_.bad.push_back({line, std::move(reason)});
}

Status TelemetryCsvReader::header(const CsvRecord& rec) {
  header_ = rec.fields;
  auto col = [&](std::initializer_list<std::string_view> names) {
    for (std::size_t i = 0; i < header_.size(); ++i) {
      for (auto n : names) {
        if (header_[i] == n) return static_cast<int>(i);
      }
    }
    return -1;
  };
  c_metric_ = col({"metric_name"});
  c_value_ = col({"value"});
  c_gpu_ = col({"gpu_id"});
  c_uuid_ = col({"uuid", "UUID"});
  c_device_ = col({"device"});
  c_model_ = col({"modelName", "model"});
  c_host_ = col({"Hostname", "hostname"});
  c_labels_ = col({"labels_raw"});
  if (c_metric_ >= 0 && c_value_ >= 0) {
    if (c_gpu_ < 0 && c_uuid_ < 0) {
      return tl::unexpected(
          TelemetryError{TelemetryErrc::invalid_argument,
                         fmt::format("{}: line {}: DCGM header has neither a 'uuid' nor a 'gpu_id' column",
                                     source_, rec.line)});
    }
    format_ = CsvFormat::dcgm_long;
  } else if (c_gpu_ >= 0) {
    format_ = CsvFormat::wide;
    static const std::vector<std::string_view> kMeta = {
        "gpu_id",   "uuid",      "UUID",      "device", "modelName", "model",     "Hostname",
        "hostname", "timestamp", "container", "pod",    "namespace", "labels_raw"};
    for (std::size_t i = 0; i < header_.size(); ++i) {
      bool meta = false;
      for (auto m : kMeta) meta = meta || header_[i] == m;
      if (!meta && !header_[i].empty()) metric_cols_.push_back(static_cast<int>(i));
    }
    if (metric_cols_.empty()) {
      return tl::unexpected(TelemetryError{
          TelemetryErrc::invalid_argument,
          fmt::format("{}: line {}: wide header 'gpu_id,...' has no metric columns", source_, rec.line)});
    }
  } else {
    return tl::unexpected(TelemetryError{
        TelemetryErrc::invalid_argument,
        fmt::format("{}: line {}: unrecognised header; expected DCGM columns "
                    "(timestamp,metric_name,gpu_id,device,uuid,modelName,Hostname,...,value,labels_raw) or "
                    "the wide format (gpu_id,<metric>,...)",
                    source_, rec.line)});
  }
  have_header_ = true;
  return {};
}

void TelemetryCsvReader::row(const CsvRecord& rec, std::vector<CsvRow>& out) {
  if (!rec.error.empty()) return bad(rec.line, rec.error);
  if (rec.fields.size() != header_.size()) {
    return bad(rec.line, fmt::format("{} columns, header has {}", rec.fields.size(), header_.size()));
  }
  auto get = [&](int c) -> const std::string& {
    static const std::string kEmpty;
    return c >= 0 ? rec.fields[static_cast<std::size_t>(c)] : kEmpty;
  };
  CsvRow r;
  r.line = rec.line;
  r.gpu.uuid = get(c_uuid_);
  r.gpu.gpu_index = get(c_gpu_);
  r.gpu.device = get(c_device_);
  r.gpu.model = get(c_model_);
  r.gpu.hostname = get(c_host_);
  r.gpu.id = !r.gpu.uuid.empty() ? r.gpu.uuid : r.gpu.gpu_index;
  if (r.gpu.id.empty()) return bad(rec.line, "missing GPU id (both uuid and gpu_id are empty)");
  if (format_ == CsvFormat::dcgm_long) {
    const std::string& metric = get(c_metric_);
    if (metric.empty()) return bad(rec.line, "empty metric_name");
    double v = 0;
    if (!parse_finite_double(get(c_value_), v)) {
      return bad(rec.line, fmt::format("value '{}' of {} is not a finite number", get(c_value_), metric));
    }
    r.metrics.emplace_back(metric, v);
    for (auto& [k, val] : parse_labels_raw(get(c_labels_))) {
      if (k != "__name__") r.gpu.labels.emplace(std::move(k), std::move(val));
    }
    if (r.gpu.hostname.empty()) {
      auto it = r.gpu.labels.find("Hostname");
      if (it != r.gpu.labels.end()) r.gpu.hostname = it->second;
    }
  } else {
    for (int c : metric_cols_) {
      double v = 0;
      if (!parse_finite_double(get(c), v)) {
        return bad(rec.line, fmt::format("column '{}' value '{}' is not a finite number",
                                         header_[static_cast<std::size_t>(c)], get(c)));
      }
      r.metrics.emplace_back(header_[static_cast<std::size_t>(c)], v);
    }
  }
  ++stats_.rows_ok;
  out.push_back(std::move(r));
}

Status TelemetryCsvReader::handle(std::vector<CsvRecord>& recs, std::vector<CsvRow>& out) {
  for (auto& rec : recs) {
    if (!have_header_) {
      if (!rec.error.empty()) {
        return tl::unexpected(
            TelemetryError{TelemetryErrc::invalid_argument,
                           fmt::format("{}: line {}: malformed header: {}", source_, rec.line, rec.error)});
      }
      if (auto h = header(rec); !h) return h;
      continue;
    }
    row(rec, out);
  }
  recs.clear();
  return {};
}

Status TelemetryCsvReader::feed(std::string_view chunk, std::vector<CsvRow>& out) {
  parser_.feed(chunk, pending_);
  return handle(pending_, out);
}

Status TelemetryCsvReader::finish(std::vector<CsvRow>& out) {
  parser_.finish(pending_);
  if (auto r = handle(pending_, out); !r) return r;
  if (!have_header_) {
    return tl::unexpected(
        TelemetryError{TelemetryErrc::invalid_argument, fmt::format("{}: empty file (no header)", source_)});
  }
  return {};
}

Result<std::vector<CsvRow>> read_telemetry_csv(const std::string& path, CsvStats* stats) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    return telemetry_error(err == ENOENT ? TelemetryErrc::not_found : TelemetryErrc::io,
                           fmt::format("cannot open CSV file '{}': {}; set CSV_FILE or "
                                       "--csv-file to a readable file",
                                       path, std::strerror(err)));
  }
  TelemetryCsvReader reader(path);
  std::vector<CsvRow> rows;
  std::string buf(1 << 16, '\0');
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const auto n = static_cast<std::size_t>(in.gcount());
    if (n == 0) break;
    if (auto r = reader.feed(std::string_view(buf.data(), n), rows); !r) {
      return tl::unexpected(r.error());
    }
  }
  if (auto r = reader.finish(rows); !r) return tl::unexpected(r.error());
  if (stats) *stats = reader.stats();
  return rows;
}

}  // namespace rm::telemetry
