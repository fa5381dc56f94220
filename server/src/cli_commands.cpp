// `remotemedia serve` and `remotemedia stream` (docs/streaming.md, docs/cli.md), wired into the
// CLI through its command registry. Exit codes: 0 success, 1 failure (message on stderr), 2 usage.
#include <fstream>
#include <iostream>
#include <thread>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "core/json.hpp"
#include "core/log.hpp"
#include "core/shutdown.hpp"
#include "runtime/audio_file.hpp"
#include "runtime/cli.hpp"
#include "server/stream_client.hpp"
#include "server/stream_server.hpp"

namespace rm::server {
namespace {

int parse(CLI::App& app, const std::string& name, const std::vector<std::string>& args) {
  std::vector<std::string> argv_store{"remotemedia " + name};
  argv_store.insert(argv_store.end(), args.begin(), args.end());
  std::vector<const char*> argv;
  for (const auto& a : argv_store) argv.push_back(a.c_str());
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return -1;
}

tl::expected<std::string, std::string> read_token(const std::string& path) {
  std::ifstream in(path);
  if (!in) return tl::unexpected(fmt::format("cannot read the token file {}", path));
  std::string token((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto b = token.find_first_not_of(" \t\r\n");
  auto e = token.find_last_not_of(" \t\r\n");
  if (b == std::string::npos) return tl::unexpected(fmt::format("the token file {} is empty", path));
  return token.substr(b, e - b + 1);
}

int cmd_serve(const std::vector<std::string>& args) {
  CLI::App app{"Serve every manifest in a directory over HTTP + WebSocket (docs/streaming.md)"};
  std::string listen = "127.0.0.1:8090", token_file, web_dir;
  std::vector<std::string> dirs;
  ServerOptions o;
  double idle_s = 60, drain_s = 30;
  app.add_option("--listen", listen, "HOST:PORT to listen on")->capture_default_str();
  app.add_option("--pipelines", dirs, "Directory of manifests served by file stem, a manifest file, or NAME=FILE (repeatable)")
      ->required();
  app.add_option("--auth-token-file", token_file, "Require Authorization: Bearer <the token in this file>");
  app.add_option("--max-sessions", o.max_sessions, "Sessions at once; past it upgrades get 503 (default 64 per core)");
  app.add_option("--max-frame-bytes", o.max_frame_bytes, "Largest WebSocket message accepted")->capture_default_str();
  app.add_option("--idle-timeout-s", idle_s, "Close a session that sends nothing this long")->capture_default_str();
  app.add_option("--drain-timeout-s", drain_s, "On SIGTERM, how long running sessions may finish")->capture_default_str();
  app.add_option("--web-dir", web_dir, "Directory of the browser page served at /");
  if (int r = parse(app, "serve", args); r >= 0) return r;
  auto colon = listen.rfind(':');
  unsigned port = 0;
  if (colon == std::string::npos || std::sscanf(listen.c_str() + colon + 1, "%u", &port) != 1 || port > 65535) {
    std::cerr << fmt::format("error: --listen {} is not HOST:PORT\n", listen);
    return 2;
  }
  o.host = listen.substr(0, colon);
  o.port = static_cast<std::uint16_t>(port);
  o.idle_timeout = std::chrono::milliseconds(static_cast<long long>(idle_s * 1000));
  o.drain_timeout = std::chrono::milliseconds(static_cast<long long>(drain_s * 1000));
  o.web_root = web_dir;
  if (!token_file.empty()) {
    auto t = read_token(token_file);
    if (!t) {
      std::cerr << "error: " << t.error() << '\n';
      return 1;
    }
    o.auth_token = *t;
  }
  core::Shutdown::install();
  auto catalog = PipelineCatalog::load(dirs);
  if (!catalog) {
    std::cerr << catalog.error() << '\n';
    return 1;
  }
  const auto names = catalog->names();
  StreamServer server(std::move(*catalog), o);
  if (auto ok = server.start(); !ok) {
    std::cerr << "error: " << ok.error() << '\n';
    return 1;
  }
  std::cout << fmt::format("serving {} pipeline{} ({}) on http://{}:{}/\n", names.size(), names.size() == 1 ? "" : "s",
                           fmt::join(names, ", "), o.host, server.port())
            << std::flush;
  core::Shutdown::wait();
  core::logger("server")->info("shutdown requested: draining {} session(s)", server.active_sessions());
  server.drain();
  return 0;
}

int cmd_stream(const std::vector<std::string>& args) {
  CLI::App app{"Stream an audio file through a pipeline on a server, writing outputs as JSON lines"};
  std::string url, pipeline, input_file, input_name, output, token_file;
  bool realtime = false;
  app.add_option("url", url, "Server base URL: http://host:port or ws://host:port")->required();
  app.add_option("pipeline", pipeline, "Pipeline name (see GET /v1/pipelines)")->required();
  app.add_option("-i,--input", input_file, "WAV/FLAC file; NAME=FILE for a pipeline with several inputs")->required();
  app.add_flag("--realtime", realtime, "Send 20 ms chunks at the pace of the audio");
  app.add_option("-o,--output", output, "Write JSON lines here instead of stdout");
  app.add_option("--auth-token-file", token_file, "Send the token in this file as a Bearer token");
  if (int r = parse(app, "stream", args); r >= 0) return r;
  if (auto eq = input_file.find('='); eq != std::string::npos) {
    input_name = input_file.substr(0, eq);
    input_file = input_file.substr(eq + 1);
  }
  auto audio = runtime::read_audio_file(input_file);
  if (!audio) {
    std::cerr << "error: " << audio.error().message << '\n';
    return 1;
  }
  ClientOptions co;
  if (!token_file.empty()) {
    auto t = read_token(token_file);
    if (!t) {
      std::cerr << "error: " << t.error() << '\n';
      return 1;
    }
    co.token = *t;
  }
  co.on_progress = [](const boost::json::object& p) {
    if (const auto* m = p.if_contains("message"); m && m->is_string()) {
      core::logger("stream")->info("{}", std::string_view(m->get_string()));
    }
  };
  std::ofstream file_out;
  if (!output.empty()) {
    file_out.open(output, std::ios::trunc);
    if (!file_out) {
      std::cerr << fmt::format("error: cannot create output file {}\n", output);
      return 1;
    }
  }
  std::ostream& out = output.empty() ? std::cout : file_out;
  auto client = StreamClient::connect(url, pipeline, co);
  if (!client) {
    std::cerr << "error: " << client.error().message << '\n';
    return 1;
  }
  auto& c = **client;
  int code = 0;
  std::thread reader([&] {
    for (;;) {
      auto ev = c.next();
      if (!ev) continue;
      if (ev->kind == ClientEvent::Kind::output) {
        out << core::to_json(runtime::output_record(ev->node, *ev->data)) << '\n' << std::flush;
      } else if (ev->kind == ClientEvent::Kind::error) {
        std::cerr << "error: " << ev->message << '\n';
        code = 1;
      } else if (ev->kind == ClientEvent::Kind::closed) {
        if (ev->close_code != 1000) {
          if (code == 0) std::cerr << fmt::format("error: the server closed the session ({}): {}\n", ev->close_code, ev->message);
          code = 1;
        }
        return;
      }
    }
  });
  const auto& a = *audio;
  const std::size_t chunk = std::max<std::size_t>(1, a.sample_rate / 50);
  const auto t0 = std::chrono::steady_clock::now();
  for (std::size_t pos = 0; pos < a.frames(); pos += chunk) {
    const std::size_t n = std::min(chunk, a.frames() - pos);
    std::vector<float> s(a.samples.begin() + static_cast<std::ptrdiff_t>(pos * a.channels),
                         a.samples.begin() + static_cast<std::ptrdiff_t>((pos + n) * a.channels));
    const auto ts = static_cast<std::int64_t>(pos * 1'000'000ULL / a.sample_rate);
    if (realtime) std::this_thread::sleep_until(t0 + std::chrono::microseconds(ts));
    if (!c.send(input_name, *runtime::RuntimeData::make_audio(std::move(s), a.sample_rate, a.channels, ts))) break;
  }
  c.end(input_name);
  reader.join();
  return code;
}

RM_REGISTER_CLI_COMMAND("serve", "Serve pipelines to network clients over WebSocket (docs/streaming.md)", cmd_serve);
RM_REGISTER_CLI_COMMAND("stream", "Stream an audio file through a pipeline on a remotemedia server", cmd_stream);

}  // namespace
}  // namespace rm::server
