#pragma once
// PipelineExecutor: runs a validated Manifest as streaming sessions.
//
//   auto manifest = Manifest::from_file("pipeline.yaml");
//   PipelineExecutor executor(*manifest);
//   auto session = executor.start_session({.on_output = print});
//   (*session)->push("audio_source", chunk); ... (*session)->close_input("audio_source");
//   auto status = (*session)->wait();
//
// or, like the seed, executor.execute_streaming(stream, callback) which does the same for an
// InputStream. An executor is immutable after construction; any number of sessions may run at
// once from any threads, each with its own nodes (no state is shared between sessions).
// See session.hpp for the threading, backpressure and end-of-stream guarantees.
#include <memory>
#include <optional>
#include <string>

#include <tl/expected.hpp>

#include "runtime/input_stream.hpp"
#include "runtime/manifest.hpp"
#include "runtime/runtime_data.hpp"
#include "runtime/session.hpp"

namespace rm::runtime {

class PipelineExecutor {
 public:
  explicit PipelineExecutor(Manifest manifest);

  const Manifest& manifest() const { return manifest_; }

  // Builds every node (native ones from the registry, process/docker ones through their
  // NodeProviders) and starts the node threads. A node that cannot be built fails the call
  // with an error naming it; nodes already built are closed.
  tl::expected<std::unique_ptr<Session>, SessionError> start_session(SessionOptions options = {}) const;

  // Runs one session over `input` to the end: Session::feed, then wait.
  SessionStatus execute_streaming(InputStream& input, OutputCallback on_output,
                                  SessionOptions options = {}) const;

 private:
  Manifest manifest_;
};

// 16 random lowercase hex digits.
std::string make_session_id();

}  // namespace rm::runtime
