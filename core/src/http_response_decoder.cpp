#include "core/http_response_decoder.hpp"

#include <algorithm>
#include <cctype>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>

namespace rm::core::http {

namespace bhttp = boost::beast::http;
using boost::beast::error_code;

struct ResponseDecoder::Impl final : bhttp::basic_parser<false> {
  Impl(Callbacks c, Options o) : cb(std::move(c)), peer(std::move(o.peer)), limit(o.body_limit) {
    eager(true);
    header_limit(64 * 1024);
    if (o.body_limit) {
      body_limit(*o.body_limit);
    } else {
      body_limit(boost::none);  // build logs and followed logs have no useful bound
    }
    if (o.head_response) skip(true);
  }

  Callbacks cb;
  std::string peer;
  std::optional<std::uint64_t> limit;
  std::string pending;
  std::map<std::string, std::string> fields;
  std::vector<std::pair<std::string, std::string>> field_list;
  int code = 0;
  bool stop = false;
  std::string err;

  void on_request_impl(bhttp::verb, boost::beast::string_view, boost::beast::string_view, int,
                       error_code&) override {}
  void on_response_impl(int status, boost::beast::string_view, int, error_code&) override { code = status; }
  void on_field_impl(bhttp::field, boost::beast::string_view name, boost::beast::string_view value,
                     error_code&) override {
    std::string key(name);
    std::transform(key.begin(), key.end(), key.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    fields[key] = std::string(value);
    field_list.emplace_back(std::move(key), std::string(value));
  }
  void on_header_impl(error_code&) override {
    if (cb.on_header) cb.on_header(code);
  }
  void on_body_init_impl(const boost::optional<std::uint64_t>&, error_code&) override {}
  std::size_t deliver(boost::beast::string_view body, error_code& ec) {
    if (cb.on_body && !body.empty() && !cb.on_body(std::string_view(body.data(), body.size()))) {
      stop = true;
      ec = bhttp::error::end_of_stream;  // any error stops put(); we report `stopped` instead
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

ResponseDecoder::ResponseDecoder(Callbacks cb, Options options)
    : impl_(std::make_unique<Impl>(std::move(cb), std::move(options))) {}
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
    if (ec == bhttp::error::need_more) break;
    if (ec == bhttp::error::body_limit) {
      p.err =
          "the response body from " + p.peer + " exceeds the limit of " + std::to_string(*p.limit) + " bytes";
      return false;
    }
    if (ec) {
      p.err = "malformed HTTP response from " + p.peer + ": " + ec.message();
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
  p.err = p.peer + " closed the connection before the end of the response";
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

}  // namespace rm::core::http

namespace rm::core::http {
const std::vector<std::pair<std::string, std::string>>& ResponseDecoder::header_list() const {
  return impl_->field_list;
}
}  // namespace rm::core::http
