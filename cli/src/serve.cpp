// `remotemedia serve`: every manifest of --pipelines served over HTTP + WebSocket
// (docs/streaming.md). The server itself lives in server/; this only reads options.
#include <fstream>
#include <iostream>
#include <memory>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "command.hpp"
#include "core/log.hpp"
#include "core/paths.hpp"
#include "core/shutdown.hpp"
#include "server/stream_server.hpp"

namespace rm::cli {

tl::expected<std::string, std::string> read_token_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return tl::unexpected(fmt::format("cannot read the token file {}", path));
  std::string token((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto b = token.find_first_not_of(" \t\r\n");
  auto e = token.find_last_not_of(" \t\r\n");
  if (b == std::string::npos) return tl::unexpected(fmt::format("the token file {} is empty", path));
  return token.substr(b, e - b + 1);
}

namespace {

struct ServeOptions {
  std::string listen = "127.0.0.1:8090";
  std::vector<std::string> pipelines;
  std::string token_file;
  std::string web_dir;
  double idle_s = 60;
  double drain_s = 30;
  server::ServerOptions server;
};

int cmd_serve(ServeOptions& so) {
  auto& o = so.server;
  auto colon = so.listen.rfind(':');
  unsigned port = 0;
  if (colon == std::string::npos || std::sscanf(so.listen.c_str() + colon + 1, "%u", &port) != 1 ||
      port > 65535) {
    std::cerr << fmt::format("error: --listen {} is not HOST:PORT\n", so.listen);
    return 2;
  }
  o.host = so.listen.substr(0, colon);
  o.port = static_cast<std::uint16_t>(port);
  o.idle_timeout = std::chrono::milliseconds(static_cast<long long>(so.idle_s * 1000));
  o.drain_timeout = std::chrono::milliseconds(static_cast<long long>(so.drain_s * 1000));
  o.web_root = so.web_dir.empty()
                   ? core::paths::find_share("web", "RM_WEB_ROOT").value_or(std::filesystem::path())
                   : std::filesystem::path(so.web_dir);
  if (!so.token_file.empty()) {
    auto t = read_token_file(so.token_file);
    if (!t) {
      std::cerr << "error: " << t.error() << '\n';
      return 1;
    }
    o.auth_token = *t;
  }
  core::Shutdown::install();
  auto catalog = server::PipelineCatalog::load(so.pipelines);
  if (!catalog) {
    std::cerr << catalog.error() << '\n';
    return 1;
  }
  const auto names = catalog->names();
  server::StreamServer srv(std::move(*catalog), o);
  if (auto ok = srv.start(); !ok) {
    std::cerr << "error: " << ok.error() << '\n';
    return 1;
  }
  std::cout << fmt::format("serving {} pipeline{} ({}) on http://{}:{}/\n", names.size(),
                           names.size() == 1 ? "" : "s", fmt::join(names, ", "), o.host, srv.port())
            << std::flush;
  core::Shutdown::wait();
  core::logger("server")->info("shutdown requested: draining {} session(s)", srv.active_sessions());
  srv.drain();
  return 0;
}

}  // namespace

Command serve_command() {
  return {
      "serve", "Serve pipelines to network clients over WebSocket (docs/streaming.md)",
      [](CLI::App& sub) -> CommandRun {
        auto o = std::make_shared<ServeOptions>();
        sub.add_option("--listen", o->listen, "HOST:PORT to listen on")->capture_default_str();
        sub.add_option(
               "--pipelines", o->pipelines,
               "Directory of manifests served by file stem, a manifest file, or NAME=FILE (repeatable)")
            ->required();
        sub.add_option("--auth-token-file", o->token_file,
                       "Require Authorization: Bearer <the token in this file>");
        sub.add_option("--max-sessions", o->server.max_sessions,
                       "Sessions at once; past it upgrades get 503 (default 64 per core)");
        sub.add_option("--max-frame-bytes", o->server.max_frame_bytes, "Largest WebSocket message accepted")
            ->capture_default_str();
        sub.add_option("--idle-timeout-s", o->idle_s, "Close a session that sends nothing this long")
            ->capture_default_str();
        sub.add_option("--drain-timeout-s", o->drain_s, "On SIGTERM, how long running sessions may finish")
            ->capture_default_str();
        sub.add_option("--web-dir", o->web_dir,
                       "Directory of the web pages (default: share/remotemedia/web)");
        return [o] { return cmd_serve(*o); };
      }};
}

}  // namespace rm::cli
