#pragma once
// The catch boundary of a telemetry thread (store writer, checkpoint writer, follower poller,
// collector loops): an exception that reaches it ends the process with one clear log line and
// exit status 70, never a silent std::terminate or a thread that is gone while the service
// still reports healthy.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string_view>

#include "core/log.hpp"

namespace rm::telemetry::detail {

[[noreturn]] inline void exit_after_failure() {
  spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& l) { l->flush(); });
  std::fflush(nullptr);
  std::_Exit(70);
}

// Runs `body`; if it throws, logs and exits the process (status 70).
template <typename F>
void guard_thread(std::string_view thread_name, F&& body) noexcept {
  try {
    body();
    return;
  } catch (const std::exception& e) {
    core::logger("telemetry")
        ->critical("{} thread failed: {}; exiting with status 70", thread_name, e.what());
  } catch (...) {
    core::logger("telemetry")
        ->critical("{} thread failed with a non-standard exception; exiting with status 70", thread_name);
  }
  exit_after_failure();
}

}  // namespace rm::telemetry::detail
