#pragma once
// RuntimeData <-> wire envelope. The byte layout itself belongs to ipc/ (ipc/envelope.hpp,
// docs/ipc.md), which is byte-identical to the Python SDK (python/remotemedia/envelope.py,
// fixtures in python/tests/fixtures/envelopes.json); this file only maps RuntimeData onto ipc's
// encoders and decoded views.
//
// Guarantees: encode_into writes exactly encoded_size() bytes; audio samples start 4-byte aligned
// from the envelope start. decode never reads outside the given span and rejects truncated,
// oversized or inconsistent input with an error naming the field and offset (every message
// starts with "envelope"). JSON is written compactly (boost::json::serialize), which equals the
// Python SDK's json.dumps(separators=(",", ":"), ensure_ascii=False) for the same value.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

#include "runtime/runtime_data.hpp"

namespace rm::process {

struct WireError {
  std::string message;  // "envelope truncated: payload needs 40 bytes at offset 15, 12 left"
};

struct Envelope {
  std::string session;
  runtime::DataPtr data;
};

// Size of the envelope for `d` (metadata is carried for audio only).
std::size_t encoded_size(std::string_view session, const runtime::RuntimeData& d);
// Writes the envelope into `out` (at least encoded_size bytes); returns the bytes written.
tl::expected<std::size_t, WireError> encode_into(std::span<std::byte> out, std::string_view session,
                                                 const runtime::RuntimeData& d);
std::vector<std::byte> encode(std::string_view session, const runtime::RuntimeData& d);

// How decoded bulk payloads (audio samples, video pixels, binary, tensor data) hold their bytes.
enum class DecodeMode {
  copy,    // owned copies: the record may be released right after decode
  borrow,  // views into `in`, kept valid by `keep_alive` (e.g. the shm Sample), no copy
};

tl::expected<Envelope, WireError> decode(std::span<const std::byte> in, DecodeMode mode = DecodeMode::copy,
                                         std::function<void()> keep_alive = {});

// Control values the runner and the host exchange ("rm.ready", "rm.batch_end", ...).
inline bool is_protocol_control(const runtime::RuntimeData& d, std::string_view kind) {
  const auto* c = d.control();
  return c != nullptr && c->kind == kind;
}

}  // namespace rm::process
