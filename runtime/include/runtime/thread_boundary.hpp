#pragma once
// The catch boundary of a runtime thread (a Python node's process supervisor, a container's log
// follower and exit watcher): an exception escaping a std::thread ends the whole program, so
// the thread's body runs inside guard_thread, which turns an exception into a NodeError naming
// the node and the thread and hands it to on_error exactly once. on_error makes it the node's
// error, and so the session's (the owner reports it from its next process() or close()).
#include <exception>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "core/log.hpp"
#include "runtime/node_error.hpp"

namespace rm::runtime {

template <class Body, class OnError>
void guard_thread(std::string_view node_id, std::string_view thread, Body&& body,
                  OnError&& on_error) noexcept {
  std::string what;
  try {
    body();
    return;
  } catch (const std::exception& e) {
    what = e.what();
  } catch (...) {
    what = "an exception that is not a std::exception";
  }
  NodeError err{NodeErrorCode::remote_failed,
                fmt::format("node {}: the {} thread failed: {}", node_id, thread, what)};
  core::logger("runtime")->error("{}", err.message);
  try {
    on_error(std::move(err));
  } catch (const std::exception& e) {
    core::logger("runtime")->error("node {}: reporting the failure of the {} thread failed too: {}", node_id,
                                   thread, e.what());
  } catch (...) {
    core::logger("runtime")->error("node {}: reporting the failure of the {} thread failed too", node_id,
                                   thread);
  }
}

}  // namespace rm::runtime
