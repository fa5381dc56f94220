#pragma once
// Streamer side of cluster mode: batches go to <subject>.in of the work-queue stream.
#include <string>

#include <tl/expected.hpp>

#include "telemetry/cluster/nats.hpp"
#include "telemetry/error.hpp"
#include "telemetry/wire/publisher.hpp"

namespace rm::telemetry {

// Connects once (shared by all workers of the streamer) and creates or checks the streams.
[[nodiscard]] Result<PublisherFactory> make_nats_publisher_factory(const NatsConfig& cfg,
                                                                   const std::string& name);

}  // namespace rm::telemetry
