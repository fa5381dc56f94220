#pragma once
// What `remotemedia run` writes: one JSON line per output (docs/cli.md, "run"), and each audio
// output as a WAV file when an output directory is given.
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <ostream>
#include <string>

#include <boost/json/object.hpp>

#include "runtime/runtime_data.hpp"

namespace rm::cli {

// The JSON line for one output, without `file` (added when audio is written to a directory).
boost::json::object output_record(const std::string& node_id, const runtime::RuntimeData& data);

// Writes JSON lines (and WAV files) for outputs; called serialised by the session.
class OutputWriter {
 public:
  OutputWriter(std::ostream& out, std::optional<std::filesystem::path> dir, bool timing)
      : out_(out), dir_(std::move(dir)), timing_(timing) {}

  // With timing on, each line carries wall_ms: wall-clock ms since streaming started (the first
  // chunk pushed). Against the media time of an output this gives its latency in --realtime runs.
  void streaming_started() { t0_ns_.store(now_ns(), std::memory_order_release); }

  void write(const std::string& node_id, const runtime::DataPtr& d);

  std::size_t count() const { return count_; }
  const std::optional<std::string>& write_error() const { return write_error_; }

 private:
  static std::int64_t now_ns();

  std::ostream& out_;
  std::optional<std::filesystem::path> dir_;
  bool timing_;
  std::atomic<std::int64_t> t0_ns_{0};
  std::map<std::string, int> audio_count_;
  std::size_t count_ = 0;
  std::optional<std::string> write_error_;
};

}  // namespace rm::cli
