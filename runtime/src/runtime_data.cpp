#include "runtime/runtime_data.hpp"

#include <cstring>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <boost/json/serialize.hpp>

#include "core/json.hpp"

namespace rm::runtime {

std::string_view to_string(DataType t) {
  switch (t) {
    case DataType::audio:
      return "audio";
    case DataType::video:
      return "video";
    case DataType::text:
      return "text";
    case DataType::tensor:
      return "tensor";
    case DataType::control:
      return "control";
    case DataType::numpy:
      return "numpy";
    case DataType::file:
      return "file";
    case DataType::end_of_stream:
      return "end_of_stream";
    case DataType::json:
      return "json";
    case DataType::binary:
      return "binary";
  }
  return "unknown";
}

Bytes::Bytes(std::vector<std::byte> owned) {
  auto holder = std::make_shared<std::vector<std::byte>>(std::move(owned));
  data_ = holder->data();
  size_ = holder->size();
  keep_ = std::move(holder);
}

Bytes Bytes::copy_of(std::span<const std::byte> data) {
  return Bytes(std::vector<std::byte>(data.begin(), data.end()));
}

Bytes Bytes::borrow(const void* data, std::size_t size, std::function<void()> release) {
  Bytes b;
  b.data_ = static_cast<const std::byte*>(data);
  b.size_ = size;
  b.keep_ = std::shared_ptr<const void>(data, [release = std::move(release)](const void*) {
    if (release) release();
  });
  return b;
}

namespace {
Bytes bytes_from_floats(std::vector<float> samples) {
  // Keep the float vector itself alive; no copy into a byte vector.
  auto holder = std::make_shared<std::vector<float>>(std::move(samples));
  auto* p = holder->data();
  auto n = holder->size() * sizeof(float);
  return Bytes::borrow(p, n, [holder]() mutable { holder.reset(); });
}

DataPtr make(DataType type, std::int64_t ts, boost::json::object md, Body body) {
  auto d = std::make_shared<RuntimeData>();
  d->type = type;
  d->timestamp_us = ts;
  d->metadata = std::move(md);
  d->body = std::move(body);
  return d;
}
}  // namespace

DataPtr RuntimeData::make_audio(std::vector<float> samples, std::uint32_t sample_rate, std::uint16_t channels,
                                std::int64_t ts, boost::json::object md) {
  return make_audio(bytes_from_floats(std::move(samples)), sample_rate, channels, ts, std::move(md));
}

DataPtr RuntimeData::make_audio(Bytes samples, std::uint32_t sample_rate, std::uint16_t channels,
                                std::int64_t ts, boost::json::object md) {
  return make(DataType::audio, ts, std::move(md), Audio{std::move(samples), sample_rate, channels});
}

tl::expected<DataPtr, std::string> RuntimeData::make_video(Bytes pixels, std::uint32_t width,
                                                           std::uint32_t height, PixelFormat format,
                                                           std::uint64_t frame_number, std::int64_t ts,
                                                           boost::json::object md) {
  if (!ipc::pixel_format_from_tag(static_cast<std::uint8_t>(format)))
    return tl::unexpected(fmt::format("video frame: unknown pixel format {}", static_cast<unsigned>(format)));
  if (width == 0 || height == 0)
    return tl::unexpected(fmt::format("video frame: {}x{} has a zero dimension", width, height));
  const auto want = ipc::video_frame_bytes(format, width, height);
  if (pixels.size() != want)
    return tl::unexpected(fmt::format("video frame: {} bytes of pixels, but a {}x{} {} frame is {} bytes",
                                      pixels.size(), width, height, ipc::to_string(format), want));
  return make(DataType::video, ts, std::move(md),
              Video{std::move(pixels), width, height, format, frame_number});
}

DataPtr RuntimeData::make_text(std::string text, std::int64_t ts, boost::json::object md) {
  return make(DataType::text, ts, std::move(md), Text{std::move(text)});
}

DataPtr RuntimeData::make_json(boost::json::value value, std::int64_t ts, boost::json::object md) {
  return make(DataType::json, ts, std::move(md), Json{std::move(value)});
}

DataPtr RuntimeData::make_binary(Bytes bytes, std::string mime, std::int64_t ts, boost::json::object md) {
  return make(DataType::binary, ts, std::move(md), Binary{std::move(bytes), std::move(mime)});
}

DataPtr RuntimeData::make_tensor(std::vector<std::int64_t> shape, std::string dtype, Bytes data,
                                 std::int64_t ts, DataType type, boost::json::object md) {
  if (type != DataType::numpy) type = DataType::tensor;
  return make(type, ts, std::move(md), Tensor{std::move(shape), std::move(dtype), std::move(data)});
}

DataPtr RuntimeData::make_control(std::string kind, boost::json::object payload, std::int64_t ts,
                                  boost::json::object md) {
  return make(DataType::control, ts, std::move(md), Control{std::move(kind), std::move(payload)});
}

DataPtr RuntimeData::make_end_of_stream(std::int64_t ts) {
  return make(DataType::end_of_stream, ts, {}, EndOfStream{});
}

std::string summarize(const RuntimeData& d) {
  if (auto* a = d.audio()) {
    return fmt::format("audio {} Hz x{}, {} frames ({:.3f} s)", a->sample_rate, a->channels, a->frames(),
                       a->duration_s());
  }
  if (auto* v = d.video())
    return fmt::format("video {}x{} {} #{} ({} bytes)", v->width, v->height, ipc::to_string(v->format),
                       v->frame_number, v->pixels.size());
  if (auto* t = d.text()) return fmt::format("text \"{}\"", t->text);
  if (auto* j = d.json()) return fmt::format("json {}", core::to_json(j->value));
  if (auto* b = d.binary()) return fmt::format("binary {} bytes", b->bytes.size());
  if (auto* t = d.tensor())
    return fmt::format("{} {} [{}]", to_string(d.type), t->dtype, fmt::join(t->shape, ","));
  if (auto* c = d.control()) return fmt::format("control {} {}", c->kind, core::to_json(c->payload));
  return "end_of_stream";
}

}  // namespace rm::runtime
