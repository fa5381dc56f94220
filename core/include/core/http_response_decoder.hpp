#pragma once
// Incremental HTTP/1.1 response decoder (status line, headers, body by Content-Length, chunked
// transfer encoding or until EOF), built on Boost.Beast's basic_parser. Input may arrive in
// pieces of any size (a piece may end anywhere, even inside a header or a chunk-size line) and
// the output is the same as if all bytes had come at once; the body is handed out as it
// arrives, so long streams (build logs, followed logs) never accumulate in memory.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rm::core::http {

class ResponseDecoder {
 public:
  struct Callbacks {
    std::function<void(int status)> on_header;            // after all header fields
    std::function<bool(std::string_view piece)> on_body;  // return false to stop early
  };
  struct Options {
    std::string peer = "the server";          // named in error messages
    std::optional<std::uint64_t> body_limit;  // none: unbounded
    bool head_response = false;               // answer to HEAD: headers only, whatever they say
  };
  explicit ResponseDecoder(Callbacks cb) : ResponseDecoder(std::move(cb), Options{}) {}
  ResponseDecoder(Callbacks cb, Options options);
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
  // The same fields in the order received, repeated names kept.
  const std::vector<std::pair<std::string, std::string>>& header_list() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rm::core::http
