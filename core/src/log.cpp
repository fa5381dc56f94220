#include "core/log.hpp"

#include <cstdlib>
#include <mutex>
#include <string>

#include <spdlog/sinks/stdout_color_sinks.h>

namespace rm::core {
namespace {

std::mutex g_mutex;
spdlog::sink_ptr g_sink;
spdlog::level::level_enum g_level = spdlog::level::info;

spdlog::level::level_enum level_from_env() {
  for (const char* var : {"RM_LOG_LEVEL", "LOG_LEVEL"}) {
    if (const char* v = std::getenv(var); v && *v) return parse_level(v);
  }
  return spdlog::level::info;
}

spdlog::sink_ptr sink_locked() {
  if (!g_sink) {
    g_sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    g_level = level_from_env();
  }
  return g_sink;
}

}  // namespace

spdlog::level::level_enum parse_level(std::string_view name, spdlog::level::level_enum fallback) {
  std::string n(name);
  for (auto& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (n == "warning") n = "warn";
  if (n == "critical" || n == "fatal") n = "critical";
  auto lvl = spdlog::level::from_str(n);
  // from_str answers "off" for anything it does not know; only accept "off" when asked for.
  if (lvl == spdlog::level::off && n != "off") return fallback;
  return lvl;
}

void init_logging(std::string_view app_name) {
  std::lock_guard lock(g_mutex);
  sink_locked();
  g_level = level_from_env();
  g_sink->set_pattern(std::string("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ ") + std::string(app_name) + " [%n] %v");
  spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& l) { l->set_level(g_level); });
}

std::shared_ptr<spdlog::logger> logger(std::string_view module) {
  std::string name(module);
  if (auto existing = spdlog::get(name)) return existing;
  std::lock_guard lock(g_mutex);
  if (auto existing = spdlog::get(name)) return existing;
  auto l = std::make_shared<spdlog::logger>(name, sink_locked());
  l->set_level(g_level);
  l->flush_on(spdlog::level::warn);
  spdlog::register_logger(l);
  return l;
}

}  // namespace rm::core
