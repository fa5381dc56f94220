#include "runtime/cli.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include <CLI/CLI.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/json.hpp"
#include "core/log.hpp"
#include "core/shutdown.hpp"
#include "runtime/audio_file.hpp"
#include "runtime/executor.hpp"
#include "runtime/manifest.hpp"
#include "runtime/node_registry.hpp"

namespace rm::runtime {

namespace json = boost::json;

namespace {

std::string type_list(const std::vector<DataType>& types) {
  if (types.empty()) return "any";
  std::vector<std::string> names;
  for (auto t : types) names.emplace_back(to_string(t));
  return fmt::format("{}", fmt::join(names, ", "));
}

std::string default_text(const ParamSpec& p) {
  if (p.required()) return "required";
  if (p.default_value.is_double()) return fmt::format("{}", p.default_value.get_double());
  return core::to_json(p.default_value);
}

std::string range_text(const ParamSpec& p) {
  std::string out;
  if (p.min || p.max) {
    out = fmt::format("[{}, {}]", p.min ? fmt::format("{}", *p.min) : "-inf", p.max ? fmt::format("{}", *p.max) : "inf");
  }
  if (!p.choices.empty()) {
    if (!out.empty()) out += "; ";
    out += fmt::format("{}", fmt::join(p.choices, " | "));
  }
  return out;
}

std::string md_escape(std::string s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += "\\|";
    else if (c == '\n') out += ' ';
    else out += c;
  }
  return out;
}

void print_issues(const ManifestError& e) {
  for (const auto& i : e.issues) std::cerr << i.format(e.source) << '\n';
  std::cerr << fmt::format("{}: {} error{}\n", e.source, e.issues.size(), e.issues.size() == 1 ? "" : "s");
}

int cmd_validate(const std::string& path) {
  auto m = Manifest::from_file(path);
  if (!m) {
    print_issues(m.error());
    return 1;
  }
  for (const auto& w : m->warnings()) std::cerr << "warning: " << w << '\n';
  std::string name = m->metadata().name.empty() ? std::filesystem::path(path).stem().string() : m->metadata().name;
  std::cout << fmt::format("OK: {} ({} node{})\n", name, m->nodes().size(), m->nodes().size() == 1 ? "" : "s");
  return 0;
}

struct InputFile {
  std::string name;
  AudioBuffer audio;
  std::size_t pos = 0;  // frames pushed so far
};

// Writes JSON lines (and WAV files) for outputs; called serialised by the session.
class OutputWriter {
 public:
  OutputWriter(std::ostream& out, std::optional<std::filesystem::path> dir, bool timing)
      : out_(out), dir_(std::move(dir)), timing_(timing) {}

  // With timing on, each line carries wall_ms: wall-clock ms since streaming started (the first
  // chunk pushed). Against the media time of an output this gives its latency in --realtime runs.
  void streaming_started() { t0_ns_.store(now_ns(), std::memory_order_release); }

  void write(const std::string& node_id, const DataPtr& d) {
    auto rec = output_record(node_id, *d);
    if (timing_) {
      const std::int64_t t0 = t0_ns_.load(std::memory_order_acquire);
      rec["wall_ms"] = t0 == 0 ? 0.0 : std::round(double(now_ns() - t0) / 1e5) / 10.0;
    }
    if (dir_ && d->audio()) {
      auto n = ++audio_count_[node_id];
      auto file = *dir_ / fmt::format("{}_{:04}.wav", node_id, n);
      const auto* a = d->audio();
      auto w = write_wav(file, a->view(), a->sample_rate, a->channels);
      if (!w) {
        if (!write_error_) write_error_ = w.error().message;
      } else {
        rec["audio"].as_object()["file"] = file.string();
      }
    }
    // One line per output, flushed at once: a reader on a pipe sees each result as it happens.
    out_ << core::to_json(rec) << '\n' << std::flush;
    ++count_;
  }
  std::size_t count() const { return count_; }
  const std::optional<std::string>& write_error() const { return write_error_; }

 private:
  static std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  std::ostream& out_;
  std::optional<std::filesystem::path> dir_;
  bool timing_;
  std::atomic<std::int64_t> t0_ns_{0};
  std::map<std::string, int> audio_count_;
  std::size_t count_ = 0;
  std::optional<std::string> write_error_;
};

struct RunOptions {
  std::string manifest_path;
  std::vector<std::string> inputs;
  bool realtime = false;
  bool timing = false;
  std::string output_path;
  std::string output_dir;
};

int cmd_run(const RunOptions& ro) {
  auto m = Manifest::from_file(ro.manifest_path);
  if (!m) {
    print_issues(m.error());
    return 1;
  }
  for (const auto& w : m->warnings()) std::cerr << "warning: " << w << '\n';
  auto names = m->inputs();
  if (names.empty()) {
    std::cerr << fmt::format("error: {} has no pipeline inputs (a connection `from` that names no node)\n",
                             ro.manifest_path);
    return 1;
  }
  std::vector<InputFile> inputs;
  for (const auto& arg : ro.inputs) {
    std::string name, file;
    auto eq = arg.find('=');
    if (eq == std::string::npos) {
      if (names.size() != 1) {
        std::cerr << fmt::format("error: --input {} names no input; use NAME=FILE with one of: {}\n", arg,
                                 fmt::join(names, ", "));
        return 1;
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
      return 1;
    }
    for (const auto& in : inputs) {
      if (in.name == name) {
        std::cerr << fmt::format("error: input '{}' is given twice\n", name);
        return 1;
      }
    }
    auto audio = read_audio_file(file);
    if (!audio) {
      std::cerr << "error: " << audio.error().message << '\n';
      return 1;
    }
    inputs.push_back(InputFile{name, std::move(*audio), 0});
  }
  for (const auto& n : names) {
    bool given = std::any_of(inputs.begin(), inputs.end(), [&](const InputFile& i) { return i.name == n; });
    if (!given) {
      std::cerr << fmt::format("error: pipeline input '{}' has no file; add --input {}=FILE\n", n, n);
      return 1;
    }
  }
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
  // Real-time pacing starts once every node is up (a first run may build an image for minutes).
  if (auto ready = session->wait_ready(); !ready) {
    auto result = session->wait();
    std::cerr << "error: " << (result ? ready.error().message : result.error().message) << '\n';
    return 1;
  }
  // Worth a line when it is noticeable (Docker and Python nodes); instant native starts stay quiet.
  const auto ready_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start_t0).count();
  core::logger("cli")->log(ready_ms >= 100 ? spdlog::level::info : spdlog::level::debug,
                           "session ready in {} ms (every node initialized: images built or reused, "
                           "containers and processes up, models loaded)",
                           ready_ms);
  std::weak_ptr<Session> weak = session;
  core::Shutdown::on_shutdown([weak] {
    if (auto s = weak.lock()) s->cancel();
  });

  const bool progress = ::isatty(STDERR_FILENO) != 0;
  double total_s = 0;
  for (const auto& in : inputs) total_s = std::max(total_s, in.audio.duration_s());
  auto t0 = std::chrono::steady_clock::now();
  auto last_progress = t0;
  writer.streaming_started();
  // 20 ms chunks, inputs interleaved in media-time order.
  bool failed = false;
  for (;;) {
    InputFile* next = nullptr;
    double next_t = 0;
    for (auto& in : inputs) {
      if (in.pos >= in.audio.frames()) continue;
      double t = double(in.pos) / in.audio.sample_rate;
      if (!next || t < next_t) {
        next = &in;
        next_t = t;
      }
    }
    if (!next || core::Shutdown::requested()) break;
    auto& a = next->audio;
    std::size_t chunk = std::max<std::size_t>(1, a.sample_rate / 50);
    std::size_t n = std::min(chunk, a.frames() - next->pos);
    std::vector<float> samples(a.samples.begin() + static_cast<std::ptrdiff_t>(next->pos * a.channels),
                               a.samples.begin() + static_cast<std::ptrdiff_t>((next->pos + n) * a.channels));
    // Exact media time of the chunk's first frame (integer maths: no drift over long files).
    auto ts = static_cast<std::int64_t>(next->pos * 1'000'000ULL / a.sample_rate);
    if (ro.realtime) std::this_thread::sleep_until(t0 + std::chrono::microseconds(ts));
    auto st = session->push(next->name, RuntimeData::make_audio(std::move(samples), a.sample_rate, a.channels, ts));
    next->pos += n;
    if (!st) {
      failed = true;
      break;
    }
    if (progress) {
      auto now = std::chrono::steady_clock::now();
      if (now - last_progress > std::chrono::milliseconds(100)) {
        last_progress = now;
        std::cerr << fmt::format("\r{:.1f} s / {:.1f} s pushed, {} outputs", next_t, total_s, writer.count())
                  << std::flush;
      }
    }
  }
  if (!failed) session->close_all_inputs();
  auto result = session->wait();
  if (progress) std::cerr << "\r" << std::string(60, ' ') << "\r" << std::flush;
  out.flush();
  if (!result) {
    std::cerr << "error: " << result.error().message << '\n';
    return 1;
  }
  if (writer.write_error()) {
    std::cerr << "error: " << *writer.write_error() << '\n';
    return 1;
  }
  return 0;
}

}  // namespace

boost::json::object output_record(const std::string& node_id, const RuntimeData& d) {
  json::object rec;
  rec["node"] = node_id;
  rec["type"] = to_string(d.type);
  rec["timestamp_us"] = d.timestamp_us;
  if (const auto* t = d.text()) {
    rec["text"] = t->text;
  } else if (const auto* j = d.json()) {
    rec["json"] = j->value;
  } else if (const auto* c = d.control()) {
    json::object o;
    o["kind"] = c->kind;
    o["payload"] = c->payload;
    rec["control"] = std::move(o);
  } else if (const auto* a = d.audio()) {
    json::object o;
    o["sample_rate"] = a->sample_rate;
    o["channels"] = a->channels;
    o["frames"] = a->frames();
    o["duration_ms"] = a->duration_s() * 1000.0;
    rec["audio"] = std::move(o);
  } else if (const auto* b = d.binary()) {
    json::object o;
    o["bytes"] = b->bytes.size();
    o["mime_type"] = b->mime_type;
    rec["binary"] = std::move(o);
  } else if (const auto* tn = d.tensor()) {
    json::object o;
    json::array shape;
    for (auto s : tn->shape) shape.push_back(s);
    o["shape"] = std::move(shape);
    o["dtype"] = tn->dtype;
    o["bytes"] = tn->data.size();
    rec["tensor"] = std::move(o);
  }
  if (!d.metadata.empty()) rec["metadata"] = d.metadata;
  return rec;
}

std::string describe_nodes(std::string_view format) {
  auto list = NodeRegistry::instance().list();
  std::string out;
  if (format == "json") {
    json::array arr;
    for (const auto* r : list) {
      const auto& c = r->contract;
      json::object o;
      o["node_type"] = c.node_type;
      o["description"] = c.description;
      json::array acc, emi, params;
      for (auto t : c.accepts) acc.emplace_back(to_string(t));
      for (auto t : c.emits) emi.emplace_back(to_string(t));
      for (const auto& p : c.params) {
        json::object po;
        po["name"] = p.name;
        po["type"] = to_string(p.type);
        po["required"] = p.required();
        po["default"] = p.default_value;
        po["description"] = p.description;
        if (p.min) po["min"] = *p.min;
        if (p.max) po["max"] = *p.max;
        if (!p.choices.empty()) {
          json::array ch;
          for (const auto& s : p.choices) ch.emplace_back(s);
          po["choices"] = std::move(ch);
        }
        params.push_back(std::move(po));
      }
      o["accepts"] = std::move(acc);
      o["emits"] = std::move(emi);
      o["params"] = std::move(params);
      arr.push_back(std::move(o));
    }
    return core::to_json(arr) + "\n";
  }
  if (format == "markdown") {
    out += "# Native nodes\n\n";
    out += "Generated by `remotemedia nodes --format markdown`; do not edit by hand.\n";
    out += "Every native node runs in-process. Params are checked against these contracts when the manifest\n"
           "is loaded; a param left out takes its default.\n";
    for (const auto* r : list) {
      const auto& c = r->contract;
      out += fmt::format("\n## {}\n\n{}\n\n- accepts: {}\n- emits: {}\n", c.node_type, c.description,
                         type_list(c.accepts), type_list(c.emits));
      if (c.params.empty()) {
        out += "\nNo params.\n";
        continue;
      }
      out += "\n| param | type | default | allowed | description |\n|---|---|---|---|---|\n";
      for (const auto& p : c.params) {
        out += fmt::format("| `{}` | {} | `{}` | {} | {} |\n", p.name, to_string(p.type), md_escape(default_text(p)),
                           md_escape(range_text(p)), md_escape(p.description));
      }
    }
    return out;
  }
  for (const auto* r : list) {
    const auto& c = r->contract;
    out += fmt::format("{}  (accepts: {}; emits: {})\n    {}\n", c.node_type, type_list(c.accepts), type_list(c.emits),
                       c.description);
    for (const auto& p : c.params) {
      auto range = range_text(p);
      out += fmt::format("    {:<24} {:<16} default {}{}  {}\n", p.name, to_string(p.type), default_text(p),
                         range.empty() ? "" : "  " + range, p.description);
    }
  }
  if (list.empty()) out += "(no native node types are linked into this program)\n";
  return out;
}

namespace {
struct ExtraCommand {
  std::string name, description;
  CliCommandFn fn;
};
std::mutex& extra_mutex() {
  static std::mutex m;
  return m;
}
std::vector<ExtraCommand>& extra_commands() {
  static std::vector<ExtraCommand> v;
  return v;
}
}  // namespace

void register_cli_command(std::string name, std::string description, CliCommandFn fn) {
  std::lock_guard lock(extra_mutex());
  extra_commands().push_back({std::move(name), std::move(description), std::move(fn)});
}

int run_cli(int argc, char** argv) {
  core::init_logging("remotemedia");
  CLI::App app{"remotemedia: run and check streaming media pipelines declared in a manifest"};
  app.require_subcommand(1);

  auto* validate = app.add_subcommand("validate", "Check a manifest; prints OK or every problem found");
  std::string validate_path;
  validate->add_option("manifest", validate_path, "Manifest file (.yaml, .yml or .json)")->required();

  auto* run = app.add_subcommand("run", "Stream audio files through a pipeline, writing outputs as JSON lines");
  RunOptions ro;
  run->add_option("manifest", ro.manifest_path, "Manifest file")->required();
  run->add_option("-i,--input", ro.inputs, "NAME=FILE: feed a WAV/FLAC file to the named pipeline input")->required();
  run->add_flag("--realtime", ro.realtime, "Push 20 ms chunks at the pace of the audio instead of as fast as possible");
  run->add_flag("--timing", ro.timing,
                "Add wall_ms to each output line: wall-clock ms since the first chunk was pushed");
  run->add_option("-o,--output", ro.output_path, "Write JSON lines here instead of stdout");
  run->add_option("--output-dir", ro.output_dir, "Also write each audio output as <node>_<n>.wav into this directory");

  auto* nodes = app.add_subcommand("nodes", "List native node types and their params");
  std::string format = "text";
  nodes->add_option("-f,--format", format, "text, markdown or json")
      ->check(CLI::IsMember({"text", "markdown", "json"}));

  std::vector<std::pair<CLI::App*, CliCommandFn>> extras;
  {
    std::lock_guard lock(extra_mutex());
    for (const auto& c : extra_commands()) {
      auto* sc = app.add_subcommand(c.name, c.description);
      sc->allow_extras();
      sc->prefix_command();
      extras.emplace_back(sc, c.fn);
    }
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  if (validate->parsed()) return cmd_validate(validate_path);
  for (auto& [sc, fn] : extras)
    if (sc->parsed()) return fn(sc->remaining());
  if (nodes->parsed()) {
    std::cout << describe_nodes(format);
    return 0;
  }
  if (run->parsed()) {
    core::Shutdown::install();
    return cmd_run(ro);
  }
  return 2;
}

}  // namespace rm::runtime
