#pragma once
// Incremental decoders for what the Engine API streams back. Each one accepts its input in
// pieces of any size (a piece may end anywhere, even inside a header or a chunk-size line)
// and produces the same output as if it had been given all bytes at once; this is tested by
// splitting inputs at every byte offset.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "core/http_response_decoder.hpp"

namespace rm::docker {

// The HTTP/1.1 response decoder shared with core's HTTP client; errors name the Docker daemon.
class ResponseDecoder : public core::http::ResponseDecoder {
 public:
  explicit ResponseDecoder(Callbacks cb)
      : core::http::ResponseDecoder(std::move(cb), Options{.peer = "the Docker daemon"}) {}
};

// Docker's multiplexed log stream for containers without a TTY: frames of
// [stream:u8, 0, 0, 0, size:u32 big endian] followed by `size` bytes. Produces complete lines
// per stream (stdout = 1, stderr = 2); a trailing partial line is returned by flush().
class LogDemuxer {
 public:
  using LineSink = std::function<void(int stream, std::string_view line)>;
  explicit LogDemuxer(LineSink sink);
  void feed(std::string_view bytes);
  void flush();  // emits unterminated last lines (end of stream)
  // Lines longer than this are cut and emitted in pieces (a runaway writer must not grow us).
  static constexpr std::size_t kMaxLine = 64 * 1024;

 private:
  void emit(int stream, std::string_view data);
  LineSink sink_;
  unsigned char header_[8]{};
  std::size_t header_have_ = 0;
  std::uint32_t frame_left_ = 0;
  int frame_stream_ = 0;
  std::string partial_[3];
};

// Splits a byte stream into '\n'-terminated lines (build progress is one JSON object per
// line, though the daemon may split or merge them arbitrarily across chunks).
class LineSplitter {
 public:
  using Sink = std::function<void(std::string_view line)>;
  explicit LineSplitter(Sink sink) : sink_(std::move(sink)) {}
  void feed(std::string_view bytes);
  void flush();

 private:
  Sink sink_;
  std::string partial_;
};

}  // namespace rm::docker
