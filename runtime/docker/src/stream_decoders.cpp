#include "docker/stream_decoders.hpp"

#include <algorithm>
#include <cctype>

namespace rm::docker {

LogDemuxer::LogDemuxer(LineSink sink) : sink_(std::move(sink)) {}

void LogDemuxer::feed(std::string_view bytes) {
  while (!bytes.empty()) {
    if (frame_left_ == 0) {
      const std::size_t take = std::min(bytes.size(), sizeof header_ - header_have_);
      std::copy_n(bytes.data(), take, header_ + header_have_);
      header_have_ += take;
      bytes.remove_prefix(take);
      if (header_have_ < sizeof header_) return;
      header_have_ = 0;
      // Stream 0 is stdin (never sent); anything unknown is treated as stdout rather than lost.
      frame_stream_ = header_[0] == 2 ? 2 : 1;
      frame_left_ = (std::uint32_t{header_[4]} << 24) | (std::uint32_t{header_[5]} << 16) |
                    (std::uint32_t{header_[6]} << 8) | std::uint32_t{header_[7]};
      continue;
    }
    const std::size_t take = std::min<std::size_t>(bytes.size(), frame_left_);
    emit(frame_stream_, bytes.substr(0, take));
    frame_left_ -= static_cast<std::uint32_t>(take);
    bytes.remove_prefix(take);
  }
}

void LogDemuxer::emit(int stream, std::string_view data) {
  std::string& part = partial_[stream];
  while (!data.empty()) {
    const auto nl = data.find('\n');
    if (nl == std::string_view::npos) {
      part.append(data);
      while (part.size() >= kMaxLine) {
        sink_(stream, std::string_view(part).substr(0, kMaxLine));
        part.erase(0, kMaxLine);
      }
      return;
    }
    part.append(data.substr(0, nl));
    if (!part.empty() && part.back() == '\r') part.pop_back();
    sink_(stream, part);
    part.clear();
    data.remove_prefix(nl + 1);
  }
}

void LogDemuxer::flush() {
  for (int s = 1; s <= 2; ++s) {
    if (!partial_[s].empty()) {
      sink_(s, partial_[s]);
      partial_[s].clear();
    }
  }
}

void LineSplitter::feed(std::string_view bytes) {
  while (!bytes.empty()) {
    const auto nl = bytes.find('\n');
    if (nl == std::string_view::npos) {
      partial_.append(bytes);
      return;
    }
    partial_.append(bytes.substr(0, nl));
    if (!partial_.empty() && partial_.back() == '\r') partial_.pop_back();
    if (!partial_.empty()) sink_(partial_);
    partial_.clear();
    bytes.remove_prefix(nl + 1);
  }
}

void LineSplitter::flush() {
  if (!partial_.empty()) sink_(partial_);
  partial_.clear();
}

}  // namespace rm::docker
