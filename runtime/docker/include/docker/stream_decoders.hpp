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

namespace rm::docker {

// HTTP/1.1 response decoder (status line, headers, body by Content-Length, chunked transfer
// encoding or until EOF), built on Boost.Beast's basic_parser. The body is handed out as it
// arrives, so multi-megabyte build logs and endless log follows never accumulate in memory.
class ResponseDecoder {
 public:
  struct Callbacks {
    std::function<void(int status)> on_header;            // after all header fields
    std::function<bool(std::string_view piece)> on_body;  // return false to stop early
  };
  explicit ResponseDecoder(Callbacks cb);
  ~ResponseDecoder();
  ResponseDecoder(const ResponseDecoder&) = delete;
  ResponseDecoder& operator=(const ResponseDecoder&) = delete;

  // Feeds bytes; returns false on a protocol error (see error()) or when on_body asked to stop.
  bool feed(std::string_view bytes);
  // The peer closed the connection: completes a body delimited by EOF, or reports truncation.
  bool finish_eof();

  bool header_done() const;
  bool done() const;     // a complete message was parsed
  bool stopped() const;  // on_body returned false
  int status() const;
  const std::string& error() const;  // empty when there was none
  // Header fields, names lower-cased (last value wins).
  const std::map<std::string, std::string>& headers() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
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
