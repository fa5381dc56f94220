// `remotemedia run <manifest> --input NAME=FILE ...`: streams audio files through a pipeline
// (runtime::AudioInputStream fed to the session), writing outputs as JSON lines.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "command.hpp"
#include "core/log.hpp"
#include "core/shutdown.hpp"
#include "media/audio_file.hpp"
#include "output_writer.hpp"
#include "report.hpp"
#include "runtime/executor.hpp"
#include "runtime/input_stream.hpp"
#include "runtime/manifest.hpp"

namespace rm::cli {
namespace {

using namespace runtime;

struct RunOptions {
  std::string manifest_path;
  std::vector<std::string> inputs;
  bool realtime = false;
  bool timing = false;
  std::string output_path;
  std::string output_dir;
  bool keep_containers = false;
};

// Reads every --input NAME=FILE into the stream; prints the problem and returns false on the first bad one.
bool add_inputs(const RunOptions& ro, const std::vector<std::string>& names, AudioInputStream& stream) {
  std::vector<std::string> given;
  for (const auto& arg : ro.inputs) {
    std::string name, file;
    auto eq = arg.find('=');
    if (eq == std::string::npos) {
      if (names.size() != 1) {
        std::cerr << fmt::format("error: --input {} names no input; use NAME=FILE with one of: {}\n", arg,
                                 fmt::join(names, ", "));
        return false;
      }
      name = names.front();
      file = arg;
    } else {
      name = arg.substr(0, eq);
      file = arg.substr(eq + 1);
    }
    if (std::find(names.begin(), names.end(), name) == names.end()) {
      std::cerr << fmt::format("error: unknown input '{}'; the pipeline's inputs are: {}\n", name,
                               fmt::join(names, ", "));
      return false;
    }
    if (std::find(given.begin(), given.end(), name) != given.end()) {
      std::cerr << fmt::format("error: input '{}' is given twice\n", name);
      return false;
    }
    auto audio = media::read_audio_file(file);
    if (!audio) {
      std::cerr << "error: " << audio.error().message << '\n';
      return false;
    }
    given.push_back(name);
    stream.add(name, std::move(*audio));
  }
  for (const auto& n : names) {
    if (std::find(given.begin(), given.end(), n) == given.end()) {
      std::cerr << fmt::format("error: pipeline input '{}' has no file; add --input {}=FILE\n", n, n);
      return false;
    }
  }
  return true;
}

// Draws "12.3 s / 60.0 s pushed, 42 outputs" on a terminal's stderr while the audio is pushed.
class ProgressInput final : public InputStream {
 public:
  ProgressInput(AudioInputStream& inner, const OutputWriter& writer) : inner_(inner), writer_(writer) {}
  ~ProgressInput() override {
    if (drawn_) std::cerr << "\r" << std::string(60, ' ') << "\r" << std::flush;
  }
  std::optional<InputItem> next() override {
    auto item = inner_.next();
    auto now = std::chrono::steady_clock::now();
    if (item && now - last_ > std::chrono::milliseconds(100)) {
      last_ = now;
      drawn_ = true;
      std::cerr << fmt::format("\r{:.1f} s / {:.1f} s pushed, {} outputs", inner_.position_s(),
                               inner_.duration_s(), writer_.count())
                << std::flush;
    }
    return item;
  }

 private:
  AudioInputStream& inner_;
  const OutputWriter& writer_;
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
  bool drawn_ = false;
};

int cmd_run(const RunOptions& ro) {
  auto m = Manifest::from_file(ro.manifest_path);
  if (!m) {
    print_issues(m.error());
    return 1;
  }
  print_warnings(*m);
  if (auto p = runnable_problem(*m, ro.manifest_path); !p.empty()) {
    std::cerr << "error: " << p << '\n';
    return 1;
  }
  auto names = m->inputs();
  if (ro.keep_containers && std::getenv("RM_DOCKER_KEEP") == nullptr)
    ::setenv("RM_DOCKER_KEEP", "on-failure", 1);
  AudioInputStream audio({.realtime = ro.realtime});
  if (!add_inputs(ro, names, audio)) return 1;
  std::optional<std::filesystem::path> dir;
  if (!ro.output_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(ro.output_dir, ec);
    if (ec) {
      std::cerr << fmt::format("error: cannot create output directory {}: {}\n", ro.output_dir, ec.message());
      return 1;
    }
    dir = ro.output_dir;
  }
  std::ofstream file_out;
  if (!ro.output_path.empty()) {
    file_out.open(ro.output_path, std::ios::trunc);
    if (!file_out) {
      std::cerr << fmt::format("error: cannot create output file {}\n", ro.output_path);
      return 1;
    }
  }
  std::ostream& out = ro.output_path.empty() ? std::cout : file_out;
  OutputWriter writer(out, dir, ro.timing);

  const auto start_t0 = std::chrono::steady_clock::now();
  PipelineExecutor executor(std::move(*m));
  SessionOptions opts;
  opts.on_output = [&writer](const std::string& id, const DataPtr& d) { writer.write(id, d); };
  auto started = executor.start_session(std::move(opts));
  if (!started) {
    std::cerr << "error: " << started.error().message << '\n';
    return 1;
  }
  std::shared_ptr<Session> session(std::move(*started));
  // Ctrl-C / SIGTERM cancel the session from here on, also while nodes start (image builds,
  // pulls, containers, initialize()): the nodes are aborted and the session ends within a second.
  std::weak_ptr<Session> weak = session;
  core::Shutdown::on_shutdown([weak] {
    if (auto s = weak.lock()) s->cancel();
  });
  // Real-time pacing starts once every node is up (a first run may build an image for minutes).
  if (auto ready = session->wait_ready(); !ready) {
    auto result = session->wait();
    print_error(result ? ready.error().message : result.error().message);
    return 1;
  }
  // Worth a line when it is noticeable (Docker and Python nodes); instant native starts stay quiet.
  const auto ready_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start_t0)
          .count();
  core::logger("cli")->log(ready_ms >= 100 ? spdlog::level::info : spdlog::level::debug,
                           "session ready in {} ms (every node initialized: images built or reused, "
                           "containers and processes up, models loaded)",
                           ready_ms);

  writer.streaming_started();
  SessionStatus fed;
  if (::isatty(STDERR_FILENO) != 0) {
    ProgressInput progress(audio, writer);
    fed = session->feed(progress);
  } else {
    fed = session->feed(audio);
  }
  auto result = session->wait();
  out.flush();
  if (!result) {
    print_error(result.error().message);
    return 1;
  }
  if (!fed) {
    std::cerr << "error: " << fed.error().message << '\n';
    return 1;
  }
  if (writer.write_error()) {
    std::cerr << "error: " << *writer.write_error() << '\n';
    return 1;
  }
  return 0;
}

}  // namespace

Command run_command() {
  return {"run", "Stream audio files through a pipeline, writing outputs as JSON lines",
          [](CLI::App& sub) -> CommandRun {
            auto ro = std::make_shared<RunOptions>();
            sub.add_option("manifest", ro->manifest_path, "Manifest file")->required();
            sub.add_option("-i,--input", ro->inputs,
                           "NAME=FILE: feed a WAV/FLAC file to the named pipeline input")
                ->required();
            sub.add_flag("--realtime", ro->realtime,
                         "Push 20 ms chunks at the pace of the audio instead of as fast as possible");
            sub.add_flag("--timing", ro->timing,
                         "Add wall_ms to each output line: wall-clock ms since the first chunk was pushed");
            sub.add_option("-o,--output", ro->output_path, "Write JSON lines here instead of stdout");
            sub.add_flag(
                "--keep-containers", ro->keep_containers,
                "When the session fails, leave its node containers stopped (not removed) for "
                "docker logs / inspect; `remotemedia cleanup` removes them (RM_DOCKER_KEEP=on-failure)");
            sub.add_option("--output-dir", ro->output_dir,
                           "Also write each audio output as <node>_<n>.wav into this directory");
            return [ro] {
              core::Shutdown::install();
              return cmd_run(*ro);
            };
          }};
}

}  // namespace rm::cli
