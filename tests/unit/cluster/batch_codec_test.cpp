// The cluster batch encoding (batch_codec.hpp): round trips, size, the earlier format, and a
// clear error for every kind of damage.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "telemetry/cluster/batch_codec.hpp"

using namespace rm::telemetry;

namespace {
GpuInfo gpu(int i) {
  GpuInfo g;
  g.id = "GPU-" + std::to_string(i);
  g.uuid = g.id;
  g.gpu_index = std::to_string(i % 8);
  g.device = "nvidia" + std::to_string(i % 8);
  g.model = "NVIDIA H100 80GB HBM3";
  g.hostname = "host-" + std::to_string(i / 8);
  if (i % 3 == 0) g.labels = {{"Hostname", g.hostname}, {"pci_bus_id", "00000000:1A:00.0"}};
  return g;
}

// The batch a decoder gives, flattened back to (gpu id, metric, ts, value) in order.
struct Flat {
  std::string gpu, metric;
  std::int64_t ts;
  double value;
  bool operator==(const Flat& o) const {
    // Same bits: NaN equals NaN, -0.0 differs from 0.0.
    return gpu == o.gpu && metric == o.metric && ts == o.ts &&
           std::memcmp(&value, &o.value, sizeof value) == 0;
  }
};
std::vector<Flat> flat(const Batch& b) {
  std::vector<Flat> out;
  for (const auto& s : b.samples)
    out.push_back({b.gpus[s.gpu]->id, b.metrics[s.metric], s.timestamp_ns, s.value});
  return out;
}
std::vector<Flat> flat(const std::vector<OutSample>& in) {
  std::vector<Flat> out;
  for (const auto& s : in) out.push_back({s.gpu->id, s.metric, s.timestamp_ns, s.value});
  return out;
}
}  // namespace

TEST(ClusterBatchCodec, every_sample_round_trips_with_its_gpu_metric_timestamp_and_exact_value_bits) {
  std::vector<GpuInfo> gpus;
  for (int i = 0; i < 300; ++i) gpus.push_back(gpu(i));
  const double values[] = {0.0,
                           -0.0,
                           1.0,
                           -17.0,
                           42.5,
                           73.125,
                           -0.001,
                           0.1,
                           123456.789012,
                           1e300,
                           -1e-300,
                           9007199254740991.0,
                           9007199254740992.0,
                           -9007199254740993.0,
                           std::numeric_limits<double>::infinity(),
                           -std::numeric_limits<double>::infinity(),
                           std::numeric_limits<double>::quiet_NaN(),
                           std::numeric_limits<double>::denorm_min()};
  const std::int64_t stamps[] = {1'752'846'153'000'000'000,
                                 0,
                                 -5,
                                 std::numeric_limits<std::int64_t>::max(),
                                 std::numeric_limits<std::int64_t>::min(),
                                 1'752'846'153'000'000'001};
  std::mt19937_64 rng(7);
  std::vector<OutSample> samples;
  const std::string metrics[] = {"DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_POWER_USAGE"};
  for (int i = 0; i < 5000; ++i) {
    samples.push_back({&gpus[rng() % gpus.size()], metrics[rng() % 3], stamps[rng() % std::size(stamps)],
                       values[rng() % std::size(values)]});
  }
  std::string out;
  encode_cluster_batch(out, 77, samples);
  auto b = decode_cluster_batch(out, "p-w0");
  ASSERT_TRUE(b) << b.error();
  EXPECT_EQ(b->seq, 77u);
  EXPECT_EQ(b->producer, "p-w0");
  ASSERT_EQ(b->samples.size(), samples.size());
  EXPECT_TRUE(flat(*b) == flat(samples));
  for (const auto& g : b->gpus) {
    const int i = std::stoi(g->id.substr(4));
    EXPECT_EQ(*g, gpu(i));
  }
}

TEST(ClusterBatchCodec, a_typical_batch_takes_a_fraction_of_the_broker_frames_24_bytes_per_sample) {
  // The streamer's shape: rows of one GPU and one timestamp, a few integral metrics each.
  std::vector<GpuInfo> gpus;
  for (int i = 0; i < 64; ++i) gpus.push_back(gpu(i));
  const std::string metrics[] = {"DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_MEM_COPY_UTIL", "DCGM_FI_DEV_FB_USED",
                                 "DCGM_FI_DEV_GPU_TEMP", "DCGM_FI_DEV_POWER_USAGE"};
  std::vector<OutSample> samples;
  std::int64_t ts = 1'752'846'153'000'000'000;
  for (int row = 0; samples.size() < 20000; ++row, ts += 1000) {
    for (int m = 0; m < 5; ++m) {
      samples.push_back({&gpus[static_cast<std::size_t>(row) % gpus.size()], metrics[m], ts,
                         m == 4 ? 312.25 : double((row * 7 + m) % 30000)});
    }
  }
  std::string compact, frame;
  encode_cluster_batch(compact, 1, samples);
  PublishEncoder().encode(frame, 1, samples);
  const double per_sample = static_cast<double>(compact.size()) / static_cast<double>(samples.size());
  EXPECT_LT(per_sample, 8.0) << compact.size() << " bytes";
  EXPECT_GT(static_cast<double>(frame.size()) / static_cast<double>(samples.size()), 24.0);
  auto b = decode_cluster_batch(compact, "p");
  ASSERT_TRUE(b) << b.error();
  EXPECT_TRUE(flat(*b) == flat(samples));
}

TEST(ClusterBatchCodec, a_gpu_defined_by_several_row_objects_is_defined_once_and_changed_metadata_again) {
  GpuInfo a1 = gpu(1), a2 = gpu(1), a3 = gpu(1);
  a3.hostname = "moved";
  std::vector<OutSample> samples = {{&a1, "m", 1, 1}, {&a2, "m", 2, 2}, {&a3, "m", 3, 3}};
  std::string out;
  encode_cluster_batch(out, 1, samples);
  auto b = decode_cluster_batch(out, "p");
  ASSERT_TRUE(b) << b.error();
  ASSERT_EQ(b->gpus.size(), 2u);
  EXPECT_EQ(b->gpus[b->samples[2].gpu]->hostname, "moved");
  EXPECT_EQ(b->samples[0].gpu, b->samples[1].gpu);
}

TEST(ClusterBatchCodec, an_empty_batch_and_a_legacy_publish_frame_both_decode) {
  std::string empty;
  encode_cluster_batch(empty, 5, {});
  auto e = decode_cluster_batch(empty, "p");
  ASSERT_TRUE(e) << e.error();
  EXPECT_EQ(e->seq, 5u);
  EXPECT_TRUE(e->samples.empty());

  GpuInfo g = gpu(2);
  std::vector<OutSample> samples = {{&g, "DCGM_FI_DEV_GPU_UTIL", 10, 1.5},
                                    {&g, "DCGM_FI_DEV_GPU_TEMP", 10, 40}};
  std::string frame;
  PublishEncoder().encode(frame, 9, samples);
  auto b = decode_cluster_batch(frame, "old");
  ASSERT_TRUE(b) << b.error();
  EXPECT_EQ(b->seq, 9u);
  EXPECT_TRUE(flat(*b) == flat(samples));
}

TEST(ClusterBatchCodec, an_unknown_version_is_refused_naming_both_versions) {
  GpuInfo g = gpu(0);
  std::string out;
  encode_cluster_batch(out, 1, {{&g, "m", 1, 1}});
  out[3] = 9;
  auto b = decode_cluster_batch(out, "p-w3");
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error(), "cluster batch of 'p-w3' has format version 9; this build reads version 1");
}

TEST(ClusterBatchCodec, every_truncation_and_trailing_garbage_is_an_error_not_a_partial_batch) {
  std::vector<GpuInfo> gpus = {gpu(0), gpu(1)};
  std::vector<OutSample> samples;
  for (int i = 0; i < 40; ++i)
    samples.push_back({&gpus[i % 2], i % 3 ? "a" : "b", i * 1000, i % 5 ? i : 0.5});
  std::string out;
  encode_cluster_batch(out, 3, samples);
  for (std::size_t n = 0; n < out.size(); ++n) {
    auto b = decode_cluster_batch(std::string_view(out).substr(0, n), "p");
    EXPECT_FALSE(b) << "prefix of " << n << " of " << out.size() << " bytes decoded";
  }
  auto t = decode_cluster_batch(out + "x", "p");
  ASSERT_FALSE(t);
  EXPECT_NE(t.error().find("1 bytes after the last sample"), std::string::npos) << t.error();
}

TEST(ClusterBatchCodec, refs_out_of_range_and_counts_larger_than_the_payload_are_named) {
  GpuInfo g = gpu(0);
  std::string out;
  encode_cluster_batch(out, 1, {{&g, "m", 1, 1}});
  // Layout: magic(3) version(1) seq(1) ngpus(1) gpu... nmetrics(1) len(1) "m" n(1) ts0(1) | dg mk dt v
  std::string bad_gpu = out;
  bad_gpu[out.size() - 4] = 2;  // gpu delta +1: ref 1 of 1
  auto b = decode_cluster_batch(bad_gpu, "p");
  ASSERT_FALSE(b);
  EXPECT_NE(b.error().find("sample 0 refers to GPU ref 1 of 1 or metric ref 0 of 1"), std::string::npos)
      << b.error();
  std::string bad_metric = out;
  bad_metric[out.size() - 3] = 4;  // metric ref 1 of 1
  std::string bad_kind = out;
  bad_kind[out.size() - 3] = 3;  // value kind 3
  auto k = decode_cluster_batch(bad_kind, "p");
  ASSERT_FALSE(k);
  EXPECT_NE(k.error().find("sample 0 has value kind 3"), std::string::npos) << k.error();
  b = decode_cluster_batch(bad_metric, "p");
  ASSERT_FALSE(b);
  EXPECT_NE(b.error().find("metric ref 1 of 1"), std::string::npos) << b.error();
  std::string huge = "RMB\x01\x01\xff\xff\xff\xff\x0f";  // 4 G GPU definitions in 0 bytes
  b = decode_cluster_batch(huge, "p");
  ASSERT_FALSE(b);
  EXPECT_NE(b.error().find("GPU definitions in 0 bytes"), std::string::npos) << b.error();
  b = decode_cluster_batch("not a batch", "p");
  ASSERT_FALSE(b);
}
