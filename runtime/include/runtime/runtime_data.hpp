#pragma once
// RuntimeData: the one value type that flows along the edges of a pipeline.
//
// Guarantees: a RuntimeData is immutable once built and is passed between in-process nodes
// as `DataPtr` (shared_ptr<const RuntimeData>), never copied. Bulk payloads (audio samples,
// tensor and binary bytes) live in a `Bytes` buffer whose storage may be owned by the value
// (a moved-in vector) or borrowed from elsewhere (a shared-memory record) with a release
// callback, so the IPC layer can hand out zero-copy views.
// Type tags match the wire envelope (docs/ipc.md): 1 audio, 2 video, 3 text, 4 tensor,
// 5 control, 6 numpy, 7 file, 8 end-of-stream, 9 json, 10 binary.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <boost/json/value.hpp>
#include <tl/expected.hpp>

#include "ipc/envelope.hpp"

namespace rm::runtime {

enum class DataType : std::uint8_t {
  audio = 1,
  video = 2,
  text = 3,
  tensor = 4,
  control = 5,
  numpy = 6,
  file = 7,
  end_of_stream = 8,
  json = 9,
  binary = 10,
};

std::string_view to_string(DataType t);

// Immutable, shared, possibly borrowed bytes.
class Bytes {
 public:
  Bytes() = default;
  // Takes ownership of the vector's storage (no copy).
  explicit Bytes(std::vector<std::byte> owned);
  // Copies `data` (for small payloads and tests).
  static Bytes copy_of(std::span<const std::byte> data);
  // Borrows memory owned elsewhere; `release` runs once when the last reference goes away.
  static Bytes borrow(const void* data, std::size_t size, std::function<void()> release);

  const std::byte* data() const { return data_; }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::span<const std::byte> span() const { return {data_, size_}; }
  template <typename T>
  std::span<const T> as() const {
    return {reinterpret_cast<const T*>(data_), size_ / sizeof(T)};
  }

 private:
  std::shared_ptr<const void> keep_;
  const std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

// Interleaved 32-bit float PCM.
struct Audio {
  Bytes samples;
  std::uint32_t sample_rate = 0;
  std::uint16_t channels = 1;

  std::span<const float> view() const { return samples.as<float>(); }
  std::size_t sample_count() const { return samples.size() / sizeof(float); }
  std::size_t frames() const { return channels ? sample_count() / channels : 0; }
  double duration_s() const { return sample_rate ? double(frames()) / sample_rate : 0.0; }
};

// One uncompressed video frame, tightly packed rows (no stride padding). The pixel formats and
// their sizes are the envelope's (ipc/envelope.hpp), so a frame and its wire form cannot
// disagree. make_video checks that `pixels` holds exactly frame_bytes().
using PixelFormat = ipc::PixelFormat;

struct Video {
  Bytes pixels;
  std::uint32_t width = 0;
  std::uint32_t height = 0;
  PixelFormat format = PixelFormat::rgb24;
  std::uint64_t frame_number = 0;

  std::span<const std::uint8_t> view() const { return pixels.as<std::uint8_t>(); }
  std::uint64_t frame_bytes() const { return ipc::video_frame_bytes(format, width, height); }
};

struct Text {
  std::string text;
};

struct Json {
  boost::json::value value;
};

struct Binary {
  Bytes bytes;
  std::string mime_type;  // may be empty
};

struct Tensor {
  std::vector<std::int64_t> shape;
  std::string dtype;  // numpy spelling: "float32", "int16", "uint8", ...
  Bytes data;
};

// Out-of-band events, e.g. kind "speech_start"/"speech_end" with {"start_us", "end_us"}.
struct Control {
  std::string kind;
  boost::json::object payload;
};

struct EndOfStream {};

using Body = std::variant<Audio, Video, Text, Json, Binary, Tensor, Control, EndOfStream>;

struct RuntimeData;
using DataPtr = std::shared_ptr<const RuntimeData>;

struct RuntimeData {
  DataType type = DataType::end_of_stream;
  // Media time of the first sample / the event, microseconds from the start of the stream.
  std::int64_t timestamp_us = 0;
  // Free-form metadata (source node, segment bounds, ...). Small: copied when derived.
  boost::json::object metadata;
  Body body = EndOfStream{};

  const Audio* audio() const { return std::get_if<Audio>(&body); }
  const Video* video() const { return std::get_if<Video>(&body); }
  const Text* text() const { return std::get_if<Text>(&body); }
  const Json* json() const { return std::get_if<Json>(&body); }
  const Binary* binary() const { return std::get_if<Binary>(&body); }
  const Tensor* tensor() const { return std::get_if<Tensor>(&body); }
  const Control* control() const { return std::get_if<Control>(&body); }
  bool is_end_of_stream() const { return type == DataType::end_of_stream; }

  // Factories: the only way nodes should build values.
  static DataPtr make_audio(std::vector<float> samples, std::uint32_t sample_rate, std::uint16_t channels,
                            std::int64_t timestamp_us, boost::json::object metadata = {});
  static DataPtr make_audio(Bytes samples, std::uint32_t sample_rate, std::uint16_t channels,
                            std::int64_t timestamp_us, boost::json::object metadata = {});
  // A pixel buffer of the wrong size, a zero width or height, an unknown format: an error naming the sizes.
  static tl::expected<DataPtr, std::string> make_video(Bytes pixels, std::uint32_t width,
                                                       std::uint32_t height, PixelFormat format,
                                                       std::uint64_t frame_number, std::int64_t timestamp_us,
                                                       boost::json::object metadata = {});
  static DataPtr make_text(std::string text, std::int64_t timestamp_us, boost::json::object metadata = {});
  static DataPtr make_json(boost::json::value value, std::int64_t timestamp_us,
                           boost::json::object metadata = {});
  static DataPtr make_binary(Bytes bytes, std::string mime_type, std::int64_t timestamp_us,
                             boost::json::object metadata = {});
  // type must be tensor or numpy.
  static DataPtr make_tensor(std::vector<std::int64_t> shape, std::string dtype, Bytes data,
                             std::int64_t timestamp_us, DataType type = DataType::tensor,
                             boost::json::object metadata = {});
  static DataPtr make_control(std::string kind, boost::json::object payload, std::int64_t timestamp_us,
                              boost::json::object metadata = {});
  static DataPtr make_end_of_stream(std::int64_t timestamp_us = 0);
};

// One-line human summary ("audio 16000 Hz x1, 320 frames", "video 1920x1080 rgb24 #12"), for logs
// and the CLI.
std::string summarize(const RuntimeData& d);

}  // namespace rm::runtime
