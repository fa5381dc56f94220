#pragma once
#include <future>

#include "support/telemetry_test_util.hpp"
#include "telemetry/storage/store.hpp"

namespace rm::telemetry::test {

inline tl::expected<Ack, StoreError> submit_sync(Store& s, Batch b) {
  std::promise<tl::expected<Ack, StoreError>> p;
  auto f = p.get_future();
  s.submit(std::move(b), [&p](tl::expected<Ack, StoreError> r) { p.set_value(std::move(r)); });
  return f.get();
}

inline std::unique_ptr<Store> open_store(const std::filesystem::path& dir, bool checkpoints = false,
                                         std::size_t segment_bytes = 1 << 20) {
  StoreOptions o;
  o.dir = dir;
  o.checkpoints = checkpoints;
  o.segment_bytes = segment_bytes;
  o.max_entries = 100000;
  o.checkpoint_interval = std::chrono::hours(1);
  auto s = Store::open(o);
  if (!s) throw std::runtime_error(s.error().message);
  return std::move(*s);
}

}  // namespace rm::telemetry::test
