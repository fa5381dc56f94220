#pragma once
// Logging for every module and app: spdlog, one named logger per module, level from the
// environment (RM_LOG_LEVEL, else LOG_LEVEL: trace|debug|info|warn|error|off; default info).
// Thread-safe: loggers may be fetched and used from any thread.
#include <memory>
#include <string_view>

#include <spdlog/spdlog.h>

namespace rm::core {

// Sets the pattern, the sink (stderr, so stdout stays free for program output) and the level
// from the environment. Safe to call more than once; later calls only re-read the level.
void init_logging(std::string_view app_name);

// The logger for a module ("runtime", "ipc", "telemetry.store", ...), created on first use
// with the current level and sink.
std::shared_ptr<spdlog::logger> logger(std::string_view module);

// Parses a level name; unknown names give `fallback`.
spdlog::level::level_enum parse_level(std::string_view name,
                                      spdlog::level::level_enum fallback = spdlog::level::info);

}  // namespace rm::core
