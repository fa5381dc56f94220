// Cluster batch decoder (batch_codec.hpp): arbitrary bytes give a batch or an error value, never
// a crash, an over-read or an allocation beyond the input's size; a decoded batch re-encodes to
// one that decodes to the same samples.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "telemetry/cluster/batch_codec.hpp"

using namespace rm::telemetry;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto b = decode_cluster_batch(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
  if (!b) return 0;
  std::vector<OutSample> samples;
  samples.reserve(b->samples.size());
  for (const auto& s : b->samples) {
    samples.push_back({b->gpus[s.gpu].get(), b->metrics[s.metric], s.timestamp_ns, s.value});
  }
  std::string again;
  encode_cluster_batch(again, b->seq, samples);
  auto c = decode_cluster_batch(again, "fuzz");
  if (!c || c->samples.size() != b->samples.size()) std::abort();
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const auto& x = c->samples[i];
    if (c->gpus[x.gpu]->id != samples[i].gpu->id || c->metrics[x.metric] != samples[i].metric ||
        x.timestamp_ns != samples[i].timestamp_ns || std::memcmp(&x.value, &samples[i].value, 8) != 0) {
      std::abort();
    }
  }
  return 0;
}
