#include "core/static_files.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <system_error>
#include <utility>

namespace rm::core::http {

namespace fs = std::filesystem;

std::string_view content_type_for(const fs::path& file) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 16> kTypes{{
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".map", "application/json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".ico", "image/x-icon"},
      {".woff2", "font/woff2"},
      {".wasm", "application/wasm"},
      {".txt", "text/plain; charset=utf-8"},
      {".wav", "audio/wav"},
      {".webmanifest", "application/manifest+json"},
      {".yaml", "text/yaml; charset=utf-8"},
  }};
  const std::string ext = file.extension().string();
  for (const auto& [e, type] : kTypes) {
    if (e == ext) return type;
  }
  return "application/octet-stream";
}

namespace {

bool safe_relative(std::string_view relative) {
  std::size_t start = 0;
  while (start <= relative.size()) {
    std::size_t end = relative.find('/', start);
    if (end == std::string_view::npos) end = relative.size();
    std::string_view seg = relative.substr(start, end - start);
    if (!seg.empty() && (seg.front() == '.' || seg.find('\\') != std::string_view::npos ||
                         seg.find('\0') != std::string_view::npos)) {
      return false;
    }
    start = end + 1;
  }
  return true;
}

Response not_found(std::string_view relative) {
  return error_response(404, fmt::format("no file '/{}' here", relative));
}

}  // namespace

Response static_file(const fs::path& root, std::string_view relative, std::string_view if_none_match) {
  if (!safe_relative(relative)) return not_found(relative);
  std::error_code ec;
  fs::path file = root / fs::path(relative);
  if (fs::is_directory(file, ec)) file /= "index.html";
  // Symlinks inside the root are followed, but the result must stay inside the root.
  const fs::path real_root = fs::weakly_canonical(root, ec);
  const fs::path real = fs::weakly_canonical(file, ec);
  if (ec || !fs::is_regular_file(real, ec)) return not_found(relative);
  auto [root_end, real_it] = std::mismatch(real_root.begin(), real_root.end(), real.begin(), real.end());
  if (root_end != real_root.end()) return not_found(relative);
  (void)real_it;

  const auto size = fs::file_size(real, ec);
  const auto mtime = fs::last_write_time(real, ec);
  if (ec) return error_response(500, fmt::format("cannot stat {}: {}", real.string(), ec.message()));
  const auto ticks = mtime.time_since_epoch().count();
  std::string etag = fmt::format("\"{:x}-{:x}\"", size, static_cast<std::uint64_t>(ticks));

  Response r;
  r.content_type = std::string(content_type_for(real));
  r.headers.emplace_back("ETag", etag);
  r.headers.emplace_back("Cache-Control", real.extension() == ".html" ? "no-cache" : "public, max-age=3600");
  if (!if_none_match.empty() && if_none_match == etag) {
    r.status = 304;
    return r;
  }
  std::ifstream in(real, std::ios::binary);
  if (!in) return error_response(500, fmt::format("cannot read {}", real.string()));
  r.body.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return r;
}

void add_static(Router& router, std::string url_prefix, fs::path root) {
  while (!url_prefix.empty() && url_prefix.back() == '/') url_prefix.pop_back();
  auto serve = [root](const Request& req, std::string_view relative) {
    return static_file(root, relative, req.header("if-none-match").value_or(""));
  };
  router.get(url_prefix.empty() ? "/" : url_prefix, [serve](const Request& req) { return serve(req, ""); });
  router.get(url_prefix + "/{path...}",
             [serve](const Request& req) { return serve(req, req.param("path")); });
}

}  // namespace rm::core::http
