#include "output_writer.hpp"

#include <chrono>
#include <cmath>

#include <fmt/format.h>
#include <boost/json/array.hpp>

#include "core/json.hpp"
#include "media/audio_file.hpp"

namespace rm::cli {

namespace json = boost::json;
using namespace runtime;

boost::json::object output_record(const std::string& node_id, const RuntimeData& d) {
  json::object rec;
  rec["node"] = node_id;
  rec["type"] = to_string(d.type);
  rec["timestamp_us"] = d.timestamp_us;
  if (const auto* t = d.text()) {
    rec["text"] = t->text;
  } else if (const auto* j = d.json()) {
    rec["json"] = j->value;
  } else if (const auto* c = d.control()) {
    json::object o;
    o["kind"] = c->kind;
    o["payload"] = c->payload;
    rec["control"] = std::move(o);
  } else if (const auto* a = d.audio()) {
    json::object o;
    o["sample_rate"] = a->sample_rate;
    o["channels"] = a->channels;
    o["frames"] = a->frames();
    o["duration_ms"] = a->duration_s() * 1000.0;
    rec["audio"] = std::move(o);
  } else if (const auto* v = d.video()) {
    // The frame's shape, never its pixels (a 1080p rgb24 frame is 6 MB).
    json::object o;
    o["width"] = v->width;
    o["height"] = v->height;
    o["pixel_format"] = ipc::to_string(v->format);
    o["frame_number"] = v->frame_number;
    o["bytes"] = v->pixels.size();
    rec["video"] = std::move(o);
  } else if (const auto* b = d.binary()) {
    json::object o;
    o["bytes"] = b->bytes.size();
    o["mime_type"] = b->mime_type;
    rec["binary"] = std::move(o);
  } else if (const auto* tn = d.tensor()) {
    json::object o;
    json::array shape;
    for (auto s : tn->shape) shape.push_back(s);
    o["shape"] = std::move(shape);
    o["dtype"] = tn->dtype;
    o["bytes"] = tn->data.size();
    rec["tensor"] = std::move(o);
  }
  if (!d.metadata.empty()) rec["metadata"] = d.metadata;
  return rec;
}

std::int64_t OutputWriter::now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void OutputWriter::write(const std::string& node_id, const runtime::DataPtr& d) {
  auto rec = output_record(node_id, *d);
  if (timing_) {
    const std::int64_t t0 = t0_ns_.load(std::memory_order_acquire);
    rec["wall_ms"] = t0 == 0 ? 0.0 : std::round(double(now_ns() - t0) / 1e5) / 10.0;
  }
  if (dir_ && d->audio()) {
    auto n = ++audio_count_[node_id];
    auto file = *dir_ / fmt::format("{}_{:04}.wav", node_id, n);
    const auto* a = d->audio();
    auto w = media::write_wav(file, a->view(), a->sample_rate, a->channels);
    if (!w) {
      if (!write_error_) write_error_ = w.error().message;
    } else {
      rec["audio"].as_object()["file"] = file.string();
    }
  }
  // One line per output, flushed at once: a reader on a pipe sees each result as it happens.
  out_ << core::to_json(rec) << '\n' << std::flush;
  ++count_;
}

}  // namespace rm::cli
