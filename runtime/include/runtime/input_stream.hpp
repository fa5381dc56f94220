#pragma once
// Input for a session: an InputStream yields items for named pipeline inputs; Session::feed
// (session.hpp) and PipelineExecutor::execute_streaming push them in order.
//
// AudioInputStream turns whole audio clips (one per named input) into 20 ms chunks, several
// inputs interleaved in media-time order. Each chunk's timestamp is the exact media time of its
// first frame (integer maths: no drift over long files). With `realtime` set, next() waits
// until the chunk's media time has passed since the first call, so audio is pushed at its own
// speed; otherwise as fast as the caller takes it.
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "runtime/audio_buffer.hpp"
#include "runtime/runtime_data.hpp"

namespace rm::runtime {

struct InputItem {
  std::string input;  // named pipeline input; empty = the only input of the pipeline
  DataPtr data;
};

// A source of pipeline input; next() returns nullopt at the end of the stream.
class InputStream {
 public:
  virtual ~InputStream() = default;
  virtual std::optional<InputItem> next() = 0;
};

class AudioInputStream final : public InputStream {
 public:
  struct Options {
    bool realtime = false;
    std::chrono::milliseconds chunk{20};
  };
  AudioInputStream() = default;
  explicit AudioInputStream(Options options) : options_(options) {}

  // Adds the clip for one named input (empty = the pipeline's only input).
  void add(std::string input, AudioBuffer audio);

  std::optional<InputItem> next() override;

  // Media time (seconds) of the last chunk returned; 0 before the first.
  double position_s() const { return position_s_; }
  // The longest clip's duration.
  double duration_s() const;

 private:
  struct Clip {
    std::string input;
    AudioBuffer audio;
    std::size_t pos = 0;  // frames returned so far
  };
  Options options_;
  std::vector<Clip> clips_;
  std::optional<std::chrono::steady_clock::time_point> t0_;
  double position_s_ = 0;
};

}  // namespace rm::runtime
