// `remotemedia stream URL PIPELINE --input file.wav`: a file through a pipeline on a server,
// outputs printed as the same JSON lines as `remotemedia run` (docs/streaming.md).
#include <fstream>
#include <iostream>
#include <memory>
#include <thread>

#include <fmt/format.h>
#include <boost/json/parse.hpp>

#include "command.hpp"
#include "core/log.hpp"
#include "media/audio_file.hpp"
#include "output_writer.hpp"
#include "server/stream_client.hpp"

namespace rm::cli {

tl::expected<std::string, std::string> read_token_file(const std::string& path);  // serve.cpp

namespace {

struct StreamOptions {
  std::string url, pipeline, input, output, token_file;
  std::vector<std::string> params;  // node.param=value
  bool realtime = false;
  bool timing = false;
};

// "node.param=value": the value is read as JSON (0.5, true, "quoted"), anything else is a string.
tl::expected<boost::json::object, std::string> parse_params(const std::vector<std::string>& args) {
  boost::json::object out;
  for (const auto& a : args) {
    const auto eq = a.find('=');
    if (eq == std::string::npos || eq == 0)
      return tl::unexpected(fmt::format("--param '{}' must be node.param=value", a));
    const auto text = a.substr(eq + 1);
    boost::json::error_code ec;
    auto v = boost::json::parse(text, ec);
    if (ec || v.is_object() || v.is_array()) v = boost::json::string(text);
    out[a.substr(0, eq)] = std::move(v);
  }
  return out;
}

int cmd_stream(const StreamOptions& so) {
  std::string input_name, input_file = so.input;
  if (auto eq = input_file.find('='); eq != std::string::npos) {
    input_name = input_file.substr(0, eq);
    input_file = input_file.substr(eq + 1);
  }
  auto audio = media::read_audio_file(input_file);
  if (!audio) {
    std::cerr << "error: " << audio.error().message << '\n';
    return 1;
  }
  server::ClientOptions co;
  co.caller_driven = true;  // no io thread: the reader thread below reads the socket itself
  auto params = parse_params(so.params);
  if (!params) {
    std::cerr << "error: " << params.error() << '\n';
    return 1;
  }
  co.params = std::move(*params);
  if (!so.token_file.empty()) {
    auto t = read_token_file(so.token_file);
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
  if (!so.output.empty()) {
    file_out.open(so.output, std::ios::trunc);
    if (!file_out) {
      std::cerr << fmt::format("error: cannot create output file {}\n", so.output);
      return 1;
    }
  }
  std::ostream& out = so.output.empty() ? std::cout : file_out;
  OutputWriter writer(out, std::nullopt, so.timing);
  auto client = server::StreamClient::connect(so.url, so.pipeline, co);
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
      using Kind = server::ClientEvent::Kind;
      if (ev->kind == Kind::output) {
        writer.write(ev->node, ev->data);
      } else if (ev->kind == Kind::error) {
        std::cerr << "error: " << ev->message << '\n';
        code = 1;
      } else if (ev->kind == Kind::closed) {
        if (ev->close_code != 1000) {
          if (code == 0) {
            std::cerr << fmt::format("error: the server closed the session ({}): {}\n", ev->close_code,
                                     ev->message);
          }
          code = 1;
        }
        return;
      }
    }
  });
  const auto& a = *audio;
  const std::size_t chunk = std::max<std::size_t>(1, a.sample_rate / 50);  // 20 ms
  writer.streaming_started();  // the session is ready: the same moment as in `remotemedia run`
  const auto t0 = std::chrono::steady_clock::now();
  for (std::size_t pos = 0; pos < a.frames(); pos += chunk) {
    const std::size_t n = std::min(chunk, a.frames() - pos);
    std::vector<float> s(a.samples.begin() + static_cast<std::ptrdiff_t>(pos * a.channels),
                         a.samples.begin() + static_cast<std::ptrdiff_t>((pos + n) * a.channels));
    const auto ts = static_cast<std::int64_t>(pos * 1'000'000ULL / a.sample_rate);
    if (so.realtime) std::this_thread::sleep_until(t0 + std::chrono::microseconds(ts));
    if (!c.send(input_name, *runtime::RuntimeData::make_audio(std::move(s), a.sample_rate, a.channels, ts)))
      break;
  }
  c.end(input_name);
  reader.join();
  return code;
}

}  // namespace

Command stream_command() {
  return {
      "stream", "Stream an audio file through a pipeline on a remotemedia server (JSON lines out)",
      [](CLI::App& sub) -> CommandRun {
        auto o = std::make_shared<StreamOptions>();
        sub.add_option("url", o->url, "Server base URL: http://host:port or ws://host:port")->required();
        sub.add_option("pipeline", o->pipeline, "Pipeline name (see GET /v1/pipelines)")->required();
        sub.add_option("-i,--input", o->input, "WAV/FLAC file; NAME=FILE for a pipeline with several inputs")
            ->required();
        sub.add_flag("--realtime", o->realtime, "Send 20 ms chunks at the pace of the audio");
        sub.add_flag("--timing", o->timing,
                     "Add wall_ms to each line: ms since streaming started (as `remotemedia run --timing`)");
        sub.add_option("-p,--param", o->params,
                       "node.param=value: a per-session param the pipeline allows (repeatable; value read as "
                       "JSON, else a string)");
        sub.add_option("-o,--output", o->output, "Write JSON lines here instead of stdout");
        sub.add_option("--auth-token-file", o->token_file, "Send the token in this file as a Bearer token");
        return [o] { return cmd_stream(*o); };
      }};
}

}  // namespace rm::cli
