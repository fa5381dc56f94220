#pragma once
// Small helpers shared by the audio nodes.
#include <cstdint>
#include <span>
#include <string>

#include <fmt/format.h>

#include "runtime/node.hpp"
#include "runtime/runtime_data.hpp"

namespace rm::nodes::detail {

// Media time of frame `frames` after `base_us` at `rate`, without drift (computed from the
// base each time rather than accumulated).
inline std::int64_t frame_time_us(std::int64_t base_us, std::int64_t frames, std::uint32_t rate) {
  return base_us + frames * 1'000'000 / std::int64_t(rate);
}

// A zero-copy view of `count` interleaved samples of `src` starting at sample `offset`: the
// view keeps the source value alive instead of copying its samples.
inline runtime::Bytes slice_samples(const runtime::DataPtr& src, std::size_t offset, std::size_t count) {
  const auto view = src->audio()->view();
  return runtime::Bytes::borrow(view.data() + offset, count * sizeof(float),
                                [keep = src]() mutable { keep.reset(); });
}

// The error for a non-audio input or malformed audio, naming the node.
inline runtime::Status check_audio(const runtime::RuntimeData& d, const std::string& node_id,
                                   std::string_view node_type) {
  const auto* a = d.audio();
  if (!a)
    return runtime::node_error(
        runtime::NodeErrorCode::invalid_input,
        fmt::format("node {}: {} takes audio, got {}", node_id, node_type, runtime::to_string(d.type)));
  if (a->sample_rate == 0 || a->channels == 0 || a->sample_count() % a->channels != 0)
    return runtime::node_error(runtime::NodeErrorCode::invalid_input,
                               fmt::format("node {}: malformed audio ({} Hz, {} channels, {} samples)",
                                           node_id, a->sample_rate, a->channels, a->sample_count()));
  return {};
}

}  // namespace rm::nodes::detail
