#pragma once
// The upstream envelope: how one RuntimeData travels through a channel record.
//
//   type:u8 | session_len:u16 | session | timestamp_us:u64 | payload_len:u32 | payload
//
// All integers little endian. Payload layouts per type (docs/ipc.md):
//   1 audio    sample_rate:u32 | channels:u16 | meta_len:u32 | meta (json, space padded) | f32 samples
//   3 text     utf-8 text
//   4 tensor,
//   6 numpy    dtype_len:u8 | dtype | ndim:u8 | dims:i64 * ndim | data
//   5 control  utf-8 json object {"kind":"<non-empty>","payload":{...}}
//   8 end-of-input   empty
//   9 json     utf-8 json text
//   10 binary  mime_len:u16 | mime | bytes
//   2 video    version:u8 (=1) | pixel_format:u8 | width:u32 | height:u32 | frame_number:u64 | pixels
//              (pixel_format 1 rgb24, 2 rgba, 3 yuv420p, 4 gray; pixels exactly
//              video_frame_bytes(format, width, height), tightly packed rows)
//   7 file: opaque bytes (no payload layout yet)
//
// Versioning: payload layouts that may grow (video) start with their own version byte; a
// decoder rejects versions it does not know, naming the version it got and the one it reads.
//
// This is the only implementation of the byte layout on the C++ side; the Python SDK
// (python/remotemedia/envelope.py) is the reference and python/tests/fixtures/envelopes.json
// pins the bytes: encoders here produce exactly those bytes. The audio encoder pads the meta
// JSON with trailing spaces (an empty meta becomes "{}" first when padding is needed) so the
// samples start at a multiple of 4 bytes from the envelope start: records are 8-aligned in the
// ring, so both sides can view the samples in place as float32.
//
// This codec deliberately knows nothing of runtime::RuntimeData (ipc/ sits below runtime/):
// decoding yields views into the record (zero copy); encoding writes straight into a loaned
// buffer: ask encoded_size(), loan that much, encode_into() the loan.
// Decoders treat input as untrusted: truncated input, lengths beyond the buffer, trailing
// bytes, unknown type tags and invalid UTF-8 are errors naming the field and byte offset.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "ipc/ipc_error.hpp"

namespace rm::ipc {

enum class EnvelopeType : std::uint8_t {
  audio = 1,
  video = 2,
  text = 3,
  tensor = 4,
  control = 5,
  numpy = 6,
  file = 7,
  end_of_input = 8,
  json = 9,
  binary = 10,
};

std::string_view to_string(EnvelopeType t);
// The type for a wire tag, or nullopt for an unknown tag.
std::optional<EnvelopeType> envelope_type_from_tag(std::uint8_t tag);

// ---- envelope ----

struct EnvelopeView {
  EnvelopeType type;
  std::string_view session;
  std::uint64_t timestamp_us;
  std::span<const std::byte> payload;
};

inline constexpr std::size_t kEnvelopeFixedSize = 1 + 2 + 8 + 4;
inline constexpr std::size_t kMaxSessionLen = 0xFFFF;

// Bytes of an envelope with this session and payload size.
constexpr std::size_t envelope_size(std::size_t session_len, std::size_t payload_len) {
  return kEnvelopeFixedSize + session_len + payload_len;
}

// Writes the envelope header into `out` (which must hold envelope_size(...)) and returns the
// payload_len bytes right after it, for the caller to fill in place.
tl::expected<std::span<std::byte>, IpcError> encode_envelope_header(std::span<std::byte> out,
                                                                    EnvelopeType type,
                                                                    std::string_view session,
                                                                    std::uint64_t timestamp_us,
                                                                    std::size_t payload_len);

// Validates the framing (and the type tag); the payload is not interpreted.
tl::expected<EnvelopeView, IpcError> decode_envelope(std::span<const std::byte> in);

// ---- payloads ----

struct AudioPayloadView {
  std::uint32_t sample_rate;
  std::uint16_t channels;
  std::string_view meta;  // json text without the alignment padding, may be empty
  // Little-endian f32 samples, interleaved; not necessarily 4-byte aligned in the record.
  std::span<const std::byte> samples;
  std::size_t sample_count() const { return samples.size() / 4; }
  // Copies sample i (works at any alignment).
  float sample(std::size_t i) const;
};

struct TensorPayloadView {
  std::string_view dtype;  // numpy-style: float32, int16, <f4, ...
  std::vector<std::int64_t> dims;
  std::span<const std::byte> data;
};

struct BinaryPayloadView {
  std::string_view mime;
  std::span<const std::byte> bytes;
};

// Pixel layouts of a video frame. Values are the wire tags of the video payload.
enum class PixelFormat : std::uint8_t { rgb24 = 1, rgba = 2, yuv420p = 3, gray = 4 };
std::string_view to_string(PixelFormat f);
// The format for a name ("rgb24", "rgba", "yuv420p", "gray") or a wire tag, or nullopt.
std::optional<PixelFormat> pixel_format_from_name(std::string_view name);
std::optional<PixelFormat> pixel_format_from_tag(std::uint8_t tag);
// Bytes of one tightly packed frame: rgb24 3*w*h, rgba 4*w*h, gray w*h, yuv420p
// w*h + 2*ceil(w/2)*ceil(h/2) (planar Y, U, V).
std::uint64_t video_frame_bytes(PixelFormat f, std::uint32_t width, std::uint32_t height);

inline constexpr std::uint8_t kVideoPayloadVersion = 1;
inline constexpr std::size_t kVideoHeaderSize = 1 + 1 + 4 + 4 + 8;

struct VideoPayloadView {
  PixelFormat format;
  std::uint32_t width;
  std::uint32_t height;
  std::uint64_t frame_number;
  std::span<const std::byte> pixels;  // exactly video_frame_bytes(format, width, height)
};

struct ControlPayloadView {
  std::string kind;          // unescaped, never empty
  std::string_view payload;  // json text of the "payload" member (an object), "" when absent/null
};

tl::expected<AudioPayloadView, IpcError> decode_audio(std::span<const std::byte> payload);
tl::expected<TensorPayloadView, IpcError> decode_tensor(std::span<const std::byte> payload);
tl::expected<VideoPayloadView, IpcError> decode_video(std::span<const std::byte> payload);
tl::expected<BinaryPayloadView, IpcError> decode_binary(std::span<const std::byte> payload);
tl::expected<ControlPayloadView, IpcError> decode_control(std::span<const std::byte> payload);
// text and json: validates UTF-8 and returns the text.
tl::expected<std::string_view, IpcError> decode_text(std::span<const std::byte> payload);

// Decodes the envelope and then its payload according to the type (used by the fuzzer and
// by anyone who wants full validation up front).
tl::expected<EnvelopeView, IpcError> decode_envelope_checked(std::span<const std::byte> in);

// Encoders: fill the payload region returned by encode_envelope_header.
struct AudioPayload {
  std::uint32_t sample_rate = 0;
  std::uint16_t channels = 1;
  std::string_view meta;         // compact json object text or empty
  std::size_t sample_count = 0;  // samples are written by the caller (see encode_header_into)
  // Offset of this payload from the envelope start (envelope_size(session_len, 0)); the meta
  // is padded so that payload_offset + header_size() is a multiple of 4.
  std::size_t payload_offset = 0;

  // Bytes of the meta field as written: meta, "{}" if meta is empty but padding is needed, spaces.
  std::size_t padded_meta_size() const;
  std::size_t header_size() const { return 4 + 2 + 4 + padded_meta_size(); }
  std::size_t encoded_size() const { return header_size() + 4 * sample_count; }
  // Writes everything but the samples and returns the sample region (4 * sample_count bytes)
  // so a producer can render audio straight into shared memory.
  tl::expected<std::span<std::byte>, IpcError> encode_header_into(std::span<std::byte> out) const;
  // Writes header and samples (samples.size() must equal sample_count).
  tl::expected<std::size_t, IpcError> encode_into(std::span<std::byte> out,
                                                  std::span<const float> samples) const;
};

struct TensorPayload {
  std::string_view dtype;
  std::span<const std::int64_t> dims;
  std::size_t data_size = 0;

  std::size_t header_size() const { return 1 + dtype.size() + 1 + 8 * dims.size(); }
  std::size_t encoded_size() const { return header_size() + data_size; }
  // Returns the data region (data_size bytes) for the caller to fill.
  tl::expected<std::span<std::byte>, IpcError> encode_header_into(std::span<std::byte> out) const;
};

struct VideoPayload {
  PixelFormat format = PixelFormat::rgb24;
  std::uint32_t width = 0;
  std::uint32_t height = 0;
  std::uint64_t frame_number = 0;

  std::size_t pixel_bytes() const { return video_frame_bytes(format, width, height); }
  std::size_t encoded_size() const { return kVideoHeaderSize + pixel_bytes(); }
  // Writes the head and returns the pixel region (pixel_bytes()) for the caller to fill, so a
  // producer can render a frame straight into shared memory.
  tl::expected<std::span<std::byte>, IpcError> encode_header_into(std::span<std::byte> out) const;
};

struct BinaryPayload {
  std::string_view mime;
  std::span<const std::byte> bytes;

  std::size_t encoded_size() const { return 2 + mime.size() + bytes.size(); }
  tl::expected<std::size_t, IpcError> encode_into(std::span<std::byte> out) const;
};

// Encoded as {"kind":<kind as a json string>,"payload":<payload>}, byte-identical to the
// Python SDK's json.dumps(separators=(",", ":"), ensure_ascii=False) for compact payload text.
struct ControlPayload {
  std::string_view kind;     // utf-8, non-empty
  std::string_view payload;  // compact json object text; empty means {}

  std::size_t encoded_size() const;
  tl::expected<std::size_t, IpcError> encode_into(std::span<std::byte> out) const;
};

// Bytes of the envelope for an audio payload with this session, meta and sample count.
std::size_t audio_envelope_size(std::string_view session, std::string_view meta, std::size_t sample_count);

// Bytes per element for a known numpy-style dtype name, or nullopt.
std::optional<std::size_t> dtype_size(std::string_view dtype);

}  // namespace rm::ipc
