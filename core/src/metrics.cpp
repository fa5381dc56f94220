#include "core/metrics.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <variant>

#include <fmt/format.h>

#include "core/http.hpp"

namespace rm::core::metrics {

Histogram::Histogram(std::vector<double> upper_bounds) : bounds_(std::move(upper_bounds)) {
  std::sort(bounds_.begin(), bounds_.end());
  bounds_.erase(std::unique(bounds_.begin(), bounds_.end()), bounds_.end());
  // +Inf is implicit: always the last bucket.
  while (!bounds_.empty() && std::isinf(bounds_.back())) bounds_.pop_back();
  buckets_ = std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1);
  for (std::size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0);
}

void Histogram::observe(double v) {
  auto it = std::lower_bound(bounds_.begin(), bounds_.end(), v);  // first bound >= v
  buckets_[static_cast<std::size_t>(it - bounds_.begin())].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

std::vector<std::uint64_t> Histogram::cumulative_counts() const {
  std::vector<std::uint64_t> out(bounds_.size() + 1);
  std::uint64_t acc = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    acc += buckets_[i].load(std::memory_order_relaxed);
    out[i] = acc;
  }
  return out;
}

std::vector<double> default_latency_buckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

std::string escape_help(std::string_view help) {
  std::string out;
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string escape_label_value(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"') {
      out += "\\\"";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);
}

bool valid_metric_name(std::string_view name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

bool valid_label_name(std::string_view name) {
  if (name.empty() || name.substr(0, 2) == "__") return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

std::string format_labels(const std::vector<std::pair<std::string, std::string>>& labels) {
  if (labels.empty()) return {};
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ',';
    first = false;
    out += k;
    out += "=\"";
    out += escape_label_value(v);
    out += '"';
  }
  out += '}';
  return out;
}

struct Registry::Entry {
  std::string name;
  std::string help;
  std::string type;
  std::vector<std::string> label_names;
  std::vector<double> bounds;  // histograms: to detect conflicting re-registration
  std::variant<std::monostate, std::unique_ptr<Family<Counter>>, std::unique_ptr<Family<Gauge>>,
               std::unique_ptr<Family<Histogram>>, std::function<double()>>
      family;
};

Registry::Entry& Registry::entry(const std::string& name, const std::string& help, const std::string& type,
                                 const std::vector<std::string>& label_names) {
  if (!valid_metric_name(name)) {
    throw std::invalid_argument("invalid metric name '" + name + "'");
  }
  for (const auto& l : label_names) {
    if (!valid_label_name(l) || (type == "histogram" && l == "le")) {
      throw std::invalid_argument("metric " + name + ": invalid label name '" + l + "'");
    }
  }
  auto& slot = families_[name];
  if (slot) {
    if (slot->type != type || slot->label_names != label_names) {
      throw std::invalid_argument("metric " + name + " is already registered as a " + slot->type +
                                  " with other labels");
    }
    return *slot;
  }
  slot = std::make_unique<Entry>();
  slot->name = name;
  slot->help = help;
  slot->type = type;
  slot->label_names = label_names;
  return *slot;
}

Family<Counter>& Registry::counter(const std::string& name, const std::string& help,
                                   const std::vector<std::string>& label_names) {
  std::lock_guard lock(mutex_);
  auto& e = entry(name, help, "counter", label_names);
  if (std::holds_alternative<std::monostate>(e.family)) {
    e.family = std::unique_ptr<Family<Counter>>(
        new Family<Counter>(name, help, label_names, [] { return std::make_unique<Counter>(); }));
  }
  return *std::get<std::unique_ptr<Family<Counter>>>(e.family);
}

Family<Gauge>& Registry::gauge(const std::string& name, const std::string& help,
                               const std::vector<std::string>& label_names) {
  std::lock_guard lock(mutex_);
  auto& e = entry(name, help, "gauge", label_names);
  if (std::holds_alternative<std::function<double()>>(e.family)) {
    throw std::invalid_argument("metric " + name + " is already registered as a callback gauge");
  }
  if (std::holds_alternative<std::monostate>(e.family)) {
    e.family = std::unique_ptr<Family<Gauge>>(
        new Family<Gauge>(name, help, label_names, [] { return std::make_unique<Gauge>(); }));
  }
  return *std::get<std::unique_ptr<Family<Gauge>>>(e.family);
}

Family<Histogram>& Registry::histogram(const std::string& name, const std::string& help,
                                       const std::vector<std::string>& label_names,
                                       std::vector<double> upper_bounds) {
  std::lock_guard lock(mutex_);
  auto& e = entry(name, help, "histogram", label_names);
  if (std::holds_alternative<std::monostate>(e.family)) {
    e.bounds = upper_bounds;
    e.family = std::unique_ptr<Family<Histogram>>(new Family<Histogram>(
        name, help, label_names,
        [bounds = std::move(upper_bounds)] { return std::make_unique<Histogram>(bounds); }));
  } else if (e.bounds != upper_bounds) {
    throw std::invalid_argument("histogram " + name + " is already registered with other buckets");
  }
  return *std::get<std::unique_ptr<Family<Histogram>>>(e.family);
}

void Registry::gauge_callback(const std::string& name, const std::string& help,
                              std::function<double()> read) {
  std::lock_guard lock(mutex_);
  auto& e = entry(name, help, "gauge", {});
  if (!std::holds_alternative<std::monostate>(e.family)) {
    throw std::invalid_argument("metric " + name + " is already registered");
  }
  e.family = std::move(read);
}

void Registry::counter_callback(const std::string& name, const std::string& help,
                                std::function<double()> read) {
  std::lock_guard lock(mutex_);
  auto& e = entry(name, help, "counter", {});
  if (!std::holds_alternative<std::monostate>(e.family)) {
    throw std::invalid_argument("metric " + name + " is already registered");
  }
  e.family = std::move(read);
}

namespace {

// Fields of /proc/self/stat after the command name: index 0 is field 3 (state).
std::vector<std::string> proc_stat_fields() {
  std::ifstream in("/proc/self/stat");
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> out;
  const auto close = all.rfind(')');
  if (close == std::string::npos) return out;
  std::istringstream rest(all.substr(close + 1));
  for (std::string f; rest >> f;) out.push_back(f);
  return out;
}

double proc_stat_field(std::size_t field) {  // field numbers as in proc(5)
  const auto f = proc_stat_fields();
  return field >= 3 && field - 3 < f.size() ? std::strtod(f[field - 3].c_str(), nullptr) : 0.0;
}

}  // namespace

void register_process_metrics(Registry& registry) {
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
  registry.counter_callback("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                            [ticks] { return (proc_stat_field(14) + proc_stat_field(15)) / ticks; });
  registry.gauge_callback("process_resident_memory_bytes", "Resident memory size in bytes.",
                          [page] { return proc_stat_field(24) * page; });
  registry.gauge_callback("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                          [] { return proc_stat_field(23); });
  registry.gauge_callback("process_open_fds", "Number of open file descriptors.", [] {
    std::error_code ec;
    double n = 0;
    for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
         !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
      ++n;
    }
    return n;
  });
  registry.gauge_callback("process_max_fds", "Maximum number of open file descriptors.", [] {
    rlimit rl{};
    return ::getrlimit(RLIMIT_NOFILE, &rl) == 0 ? static_cast<double>(rl.rlim_cur) : 0.0;
  });
  // Boot time + start ticks, computed once.
  double boot = 0;
  {
    std::ifstream in("/proc/stat");
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("btime ", 0) == 0) boot = std::strtod(line.c_str() + 6, nullptr);
    }
  }
  const double start = boot + proc_stat_field(22) / ticks;
  registry.gauge_callback("process_start_time_seconds",
                          "Start time of the process since unix epoch in seconds.",
                          [start] { return start; });
}

namespace {

std::vector<std::pair<std::string, std::string>> zip(const std::vector<std::string>& names,
                                                     const std::vector<std::string>& values) {
  std::vector<std::pair<std::string, std::string>> out;
  for (std::size_t i = 0; i < names.size(); ++i) out.emplace_back(names[i], values[i]);
  return out;
}

}  // namespace

std::string Registry::expose() const {
  std::string out;
  std::lock_guard lock(mutex_);
  for (const auto& family : families_) {
    // Plain references, not structured bindings: clang 14 cannot capture those in lambdas.
    const std::string& name = family.first;
    const auto& e = family.second;
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, escape_help(e->help), name, e->type);
    std::visit(
        [&](const auto& fam) {
          using F = std::decay_t<decltype(fam)>;
          if constexpr (std::is_same_v<F, std::function<double()>>) {
            out += fmt::format("{} {}\n", name, format_value(fam()));
          } else if constexpr (!std::is_same_v<F, std::monostate>) {
            std::lock_guard child_lock(fam->mutex_);
            for (const auto& [values, child] : fam->children_) {
              auto labels = zip(fam->label_names_, values);
              using T = typename std::decay_t<decltype(*fam)>::value_type_tag;
              if constexpr (std::is_same_v<T, Histogram>) {
                auto counts = child->cumulative_counts();
                const auto& bounds = child->upper_bounds();
                for (std::size_t i = 0; i <= bounds.size(); ++i) {
                  auto with_le = labels;
                  with_le.emplace_back("le", i < bounds.size() ? format_value(bounds[i]) : "+Inf");
                  out += fmt::format("{}_bucket{} {}\n", name, format_labels(with_le), counts[i]);
                }
                out += fmt::format("{}_sum{} {}\n", name, format_labels(labels), format_value(child->sum()));
                out += fmt::format("{}_count{} {}\n", name, format_labels(labels), counts.back());
              } else {
                out += fmt::format("{}{} {}\n", name, format_labels(labels), format_value(child->value()));
              }
            }
          }
        },
        e->family);
  }
  return out;
}

Registry::Registry() = default;
Registry::~Registry() = default;

tl::expected<std::unique_ptr<http::Server>, std::string> serve(const Registry& registry,
                                                               const std::string& host, std::uint16_t port) {
  http::Router router;
  router.get("/metrics", [&registry](const http::Request&) {
    return http::text_response(200, registry.expose(), std::string(kContentType));
  });
  router.get("/", [](const http::Request&) { return http::text_response(200, "metrics are at /metrics\n"); });
  http::ServerOptions options;
  options.host = host;
  options.port = port;
  options.threads = 1;
  options.server_name = "rm-metrics";
  auto server = std::make_unique<http::Server>(std::move(router), options);
  if (auto ok = server->start(); !ok) return tl::unexpected(ok.error());
  return server;
}

}  // namespace rm::core::metrics
