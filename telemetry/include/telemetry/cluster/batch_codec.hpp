#pragma once
// The JetStream message of a batch in cluster mode (docs/cluster.md, "Message format"): a
// compact, self-contained, versioned encoding, about 5 bytes per sample instead of the broker
// frame's 24, because every batch crosses the JetStream cluster several times (stored 3 times
// in each of two streams, delivered to a collector and to every gateway).
//
//   magic "RMB" | u8 version (1)
//   varint seq
//   varint gpu count,    each GPU in the shared GpuInfo binary form (protocol.hpp)
//   varint metric count, each varint length + name
//   varint sample count
//   zigzag varint first timestamp (ns)
//   per sample:
//     zigzag varint  gpu ref    - previous sample's gpu ref (consecutive samples share a GPU)
//     varint         metric ref << 2 | kind
//     zigzag varint  timestamp - previous sample's timestamp (0 within a row)
//     kind 0 (integral, |v| < 2^53, not -0.0): zigzag varint v
//     kind 1 (any other double):               8 bytes IEEE-754 little endian
//     kind 2 (few decimals, "73.125"):         varint scale (1..9), zigzag varint i; v = i / 10^scale
//   Every value decodes to the exact bits it was encoded from.
//
// Decoding never trusts a count or a ref and reports the first problem it meets. It also reads
// the earlier format (one PUBLISH frame of the broker protocol), which cannot be mistaken for
// the new one: a frame starting with the magic bytes would claim ~21 MB, beyond the frame limit.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "telemetry/wire/protocol.hpp"

namespace rm::telemetry {

inline constexpr std::uint8_t kClusterBatchVersion = 1;

// Appends the encoding of one batch to `out`.
void encode_cluster_batch(std::string& out, std::uint64_t seq, const std::vector<OutSample>& samples);

// Decodes a cluster message (this version, or a legacy PUBLISH frame) into a batch of
// `producer`; an error names what is wrong (unknown version, truncation, a ref out of range).
[[nodiscard]] tl::expected<Batch, std::string> decode_cluster_batch(std::string_view payload,
                                                                    const std::string& producer);

}  // namespace rm::telemetry
