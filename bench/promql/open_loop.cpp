// open_loop: a fixed-rate HTTP GET load generator for comparing servers side by side.
//
//   open_loop --host 127.0.0.1 --port 9090 --paths FILE [--rate 100] [--seconds 20]
//             [--concurrency 32] [--warmup 1]
//
// Open loop: request i is due at t0 + i / rate, whatever happened to the requests before it
// (wrk and other closed-loop clients send the next request only after an answer, so a slow
// server lowers the offered rate and hides its queueing). Up to --concurrency requests are in
// flight, each worker on its own keep-alive connection taking the next due request when it is
// free; a request whose due time passed while every worker was busy waits, and that wait is
// part of its latency, which is measured from the due time to the last byte of the answer.
// The paths of FILE (one per line) are sent in turn. Bodies are read in full (chunked or
// Content-Length) and not parsed. Prints one line: requests, achieved rate, errors (non-200 or
// connection failures), mean body size and the latency percentiles.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using Clock = std::chrono::steady_clock;

namespace {

struct Result {
  bool ok = false;
  std::size_t bytes = 0;
  std::string error;
};

class Connection {
 public:
  Connection(std::string host, unsigned short port) : host_(std::move(host)), port_(port) {}

  Result get(const std::string& target) {
    Result r;
    boost::system::error_code ec;
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (!stream_) {
        stream_.emplace(ioc_);
        stream_->connect(net::ip::tcp::endpoint(net::ip::make_address(host_), port_), ec);
        if (ec) {
          stream_.reset();
          r.error = "connect: " + ec.message();
          return r;
        }
        stream_->socket().set_option(net::ip::tcp::no_delay(true));
      }
      bhttp::request<bhttp::empty_body> req{bhttp::verb::get, target, 11};
      req.set(bhttp::field::host, host_);
      req.keep_alive(true);
      bhttp::write(*stream_, req, ec);
      if (!ec) {
        bhttp::response_parser<bhttp::string_body> parser;
        parser.body_limit(boost::none);
        bhttp::read(*stream_, buffer_, parser, ec);
        if (!ec) {
          const auto& res = parser.get();
          r.bytes = res.body().size();
          r.ok = res.result_int() == 200;
          if (!r.ok) r.error = "HTTP " + std::to_string(res.result_int()) + ": " + res.body().substr(0, 200);
          if (!res.keep_alive()) stream_.reset();
          return r;
        }
      }
      // A keep-alive connection the server closed: reconnect once and resend.
      r.error = ec.message();
      stream_.reset();
      buffer_.clear();
    }
    return r;
  }

 private:
  std::string host_;
  unsigned short port_;
  net::io_context ioc_;
  std::optional<beast::tcp_stream> stream_;
  beast::flat_buffer buffer_;
};

double pct(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::size_t i = std::min(v.size() - 1, static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(i), v.end());
  return v[i];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"open_loop: fixed-rate HTTP GET load, latency from each request's due time"};
  std::string host = "127.0.0.1", paths_file;
  unsigned short port = 0;
  double rate = 100, seconds = 20;
  int concurrency = 32, warmup = 1;
  app.add_option("--host", host, "server address");
  app.add_option("--port", port, "server port")->required();
  app.add_option("--paths", paths_file, "file with one request target per line, sent in turn")->required();
  app.add_option("--rate", rate, "requests per second")->check(CLI::PositiveNumber);
  app.add_option("--seconds", seconds, "duration of the measured run")->check(CLI::PositiveNumber);
  app.add_option("--concurrency", concurrency, "most requests in flight (workers)")
      ->check(CLI::PositiveNumber);
  app.add_option("--warmup", warmup, "unmeasured requests first (one per path, up to this many)");
  CLI11_PARSE(app, argc, argv);

  std::vector<std::string> paths;
  {
    std::ifstream in(paths_file);
    if (!in) {
      std::fprintf(stderr, "open_loop: cannot read %s\n", paths_file.c_str());
      return 2;
    }
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) paths.push_back(line);
    }
  }
  if (paths.empty()) {
    std::fprintf(stderr, "open_loop: %s has no request targets\n", paths_file.c_str());
    return 2;
  }
  {
    Connection c(host, port);
    for (int i = 0; i < warmup && i < static_cast<int>(paths.size()); ++i) {
      auto r = c.get(paths[static_cast<std::size_t>(i)]);
      if (!r.ok) {
        std::fprintf(stderr, "open_loop: warm-up request %s failed: %s\n", paths[0].c_str(), r.error.c_str());
        return 1;
      }
    }
  }

  const auto interval = std::chrono::duration<double>(1.0 / rate);
  const auto total = static_cast<long>(rate * seconds);
  const auto start = Clock::now() + std::chrono::milliseconds(50);
  std::atomic<long> next{0}, errors{0}, bytes{0};
  std::vector<std::vector<double>> lat(static_cast<std::size_t>(concurrency));
  std::mutex err_mu;
  std::string first_error;
  std::vector<std::thread> workers;
  for (int w = 0; w < concurrency; ++w) {
    workers.emplace_back([&, w] {
      Connection c(host, port);
      auto& mine = lat[static_cast<std::size_t>(w)];
      for (;;) {
        const long i = next++;
        if (i >= total) break;
        const auto due =
            start + std::chrono::duration_cast<Clock::duration>(interval * static_cast<double>(i));
        std::this_thread::sleep_until(due);
        auto r = c.get(paths[static_cast<std::size_t>(i) % paths.size()]);
        mine.push_back(std::chrono::duration<double, std::milli>(Clock::now() - due).count());
        bytes += static_cast<long>(r.bytes);
        if (!r.ok) {
          ++errors;
          std::lock_guard lk(err_mu);
          if (first_error.empty()) first_error = r.error;
        }
      }
    });
  }
  for (auto& t : workers) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  const double n = static_cast<double>(all.size());
  std::printf(
      "requests=%zu offered=%.0f/s achieved=%.1f/s errors=%ld avg_body=%.0f B  latency ms: p50=%.2f "
      "p90=%.2f p99=%.2f p99.9=%.2f max=%.2f\n",
      all.size(), rate, n / elapsed, errors.load(), n > 0 ? static_cast<double>(bytes.load()) / n : 0.0,
      pct(all, 50), pct(all, 90), pct(all, 99), pct(all, 99.9), pct(all, 100));
  if (!first_error.empty()) std::fprintf(stderr, "open_loop: first error: %s\n", first_error.c_str());
  return errors.load() == 0 ? 0 : 1;
}
