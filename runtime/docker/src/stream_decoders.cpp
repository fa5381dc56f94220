#include "docker/stream_decoders.hpp"

#include <algorithm>
#include <cctype>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>

namespace rm::docker {

namespace http = boost::beast::http;
using boost::beast::error_code;

struct ResponseDecoder::Impl final : http::basic_parser<false> {
  explicit Impl(Callbacks c) : cb(std::move(c)) {
    eager(true);
    header_limit(64 * 1024);
    body_limit(boost::none);  // build logs and followed logs have no useful bound
  }

  Callbacks cb;
  std::string pending;
  std::map<std::string, std::string> fields;
  int code = 0;
  bool stop = false;
  std::string err;

  void on_request_impl(http::verb, boost::beast::string_view, boost::beast::string_view, int,
                       error_code&) override {}
  void on_response_impl(int status, boost::beast::string_view, int, error_code&) override { code = status; }
  void on_field_impl(http::field, boost::beast::string_view name, boost::beast::string_view value,
                     error_code&) override {
    std::string key(name);
    std::transform(key.begin(), key.end(), key.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    fields[key] = std::string(value);
  }
  void on_header_impl(error_code&) override {
    if (cb.on_header) cb.on_header(code);
  }
  void on_body_init_impl(const boost::optional<std::uint64_t>&, error_code&) override {}
  std::size_t deliver(boost::beast::string_view body, error_code& ec) {
    if (cb.on_body && !body.empty() && !cb.on_body(std::string_view(body.data(), body.size()))) {
      stop = true;
      ec = http::error::end_of_stream;  // any error stops put(); we report `stopped` instead
    }
    return body.size();
  }
  std::size_t on_body_impl(boost::beast::string_view body, error_code& ec) override {
    return deliver(body, ec);
  }
  void on_chunk_header_impl(std::uint64_t, boost::beast::string_view, error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, boost::beast::string_view body, error_code& ec) override {
    return deliver(body, ec);
  }
  void on_finish_impl(error_code&) override {}
};

ResponseDecoder::ResponseDecoder(Callbacks cb) : impl_(std::make_unique<Impl>(std::move(cb))) {}
ResponseDecoder::~ResponseDecoder() = default;

bool ResponseDecoder::feed(std::string_view bytes) {
  Impl& p = *impl_;
  if (p.stop || !p.err.empty()) return false;
  p.pending.append(bytes);
  while (!p.pending.empty() && !p.is_done()) {
    error_code ec;
    const std::size_t n = p.put(boost::asio::buffer(p.pending.data(), p.pending.size()), ec);
    p.pending.erase(0, n);
    if (p.stop) return false;
    if (ec == http::error::need_more) break;
    if (ec) {
      p.err = "malformed HTTP response from the Docker daemon: " + ec.message();
      return false;
    }
    if (n == 0) break;
  }
  return true;
}

bool ResponseDecoder::finish_eof() {
  Impl& p = *impl_;
  if (p.is_done() || p.stop) return true;
  if (!p.err.empty()) return false;
  if (p.is_header_done()) {
    error_code ec;
    p.put_eof(ec);
    if (!ec) return true;
  }
  p.err = "the Docker daemon closed the connection before the end of the response";
  return false;
}

bool ResponseDecoder::header_done() const {
  return impl_->is_header_done();
}
bool ResponseDecoder::done() const {
  return impl_->is_done();
}
bool ResponseDecoder::stopped() const {
  return impl_->stop;
}
int ResponseDecoder::status() const {
  return impl_->code;
}
const std::string& ResponseDecoder::error() const {
  return impl_->err;
}
const std::map<std::string, std::string>& ResponseDecoder::headers() const {
  return impl_->fields;
}

// ---------------------------------------------------------------------------------------------

LogDemuxer::LogDemuxer(LineSink sink) : sink_(std::move(sink)) {}

void LogDemuxer::feed(std::string_view bytes) {
  while (!bytes.empty()) {
    if (frame_left_ == 0) {
      const std::size_t take = std::min(bytes.size(), sizeof header_ - header_have_);
      std::copy_n(bytes.data(), take, header_ + header_have_);
      header_have_ += take;
      bytes.remove_prefix(take);
      if (header_have_ < sizeof header_) return;
      header_have_ = 0;
      // Stream 0 is stdin (never sent); anything unknown is treated as stdout rather than lost.
      frame_stream_ = header_[0] == 2 ? 2 : 1;
      frame_left_ = (std::uint32_t{header_[4]} << 24) | (std::uint32_t{header_[5]} << 16) |
                    (std::uint32_t{header_[6]} << 8) | std::uint32_t{header_[7]};
      continue;
    }
    const std::size_t take = std::min<std::size_t>(bytes.size(), frame_left_);
    emit(frame_stream_, bytes.substr(0, take));
    frame_left_ -= static_cast<std::uint32_t>(take);
    bytes.remove_prefix(take);
  }
}

void LogDemuxer::emit(int stream, std::string_view data) {
  std::string& part = partial_[stream];
  while (!data.empty()) {
    const auto nl = data.find('\n');
    if (nl == std::string_view::npos) {
      part.append(data);
      while (part.size() >= kMaxLine) {
        sink_(stream, std::string_view(part).substr(0, kMaxLine));
        part.erase(0, kMaxLine);
      }
      return;
    }
    part.append(data.substr(0, nl));
    if (!part.empty() && part.back() == '\r') part.pop_back();
    sink_(stream, part);
    part.clear();
    data.remove_prefix(nl + 1);
  }
}

void LogDemuxer::flush() {
  for (int s = 1; s <= 2; ++s) {
    if (!partial_[s].empty()) {
      sink_(s, partial_[s]);
      partial_[s].clear();
    }
  }
}

void LineSplitter::feed(std::string_view bytes) {
  while (!bytes.empty()) {
    const auto nl = bytes.find('\n');
    if (nl == std::string_view::npos) {
      partial_.append(bytes);
      return;
    }
    partial_.append(bytes.substr(0, nl));
    if (!partial_.empty() && partial_.back() == '\r') partial_.pop_back();
    if (!partial_.empty()) sink_(partial_);
    partial_.clear();
    bytes.remove_prefix(nl + 1);
  }
}

void LineSplitter::flush() {
  if (!partial_.empty()) sink_(partial_);
  partial_.clear();
}

}  // namespace rm::docker
