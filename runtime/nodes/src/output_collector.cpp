// OutputCollector: gathers what reaches it into one JSON document, emitted at end of stream.
//
// Each input becomes one JSON entry {"type", "timestamp_us", ...}: text -> "text"; json ->
// "value"; control -> "kind", "payload"; audio -> a summary ("sample_rate", "channels",
// "frames", "duration_ms"), not the samples; binary/tensor -> sizes and types. Non-empty
// metadata is kept under "metadata". At flush the collection is emitted once: format "array"
// as a JSON array value, format "jsonl" as a text value with one JSON entry per line. At most
// max_items entries are held; one more is an error rather than unbounded growth.
#include <string>

#include <fmt/format.h>
#include <boost/json/value.hpp>

#include "core/json.hpp"
#include "runtime/node_registry.hpp"

namespace rm::nodes {
namespace {

using namespace rm::runtime;

boost::json::object entry_of(const RuntimeData& d) {
  boost::json::object e;
  e["type"] = to_string(d.type);
  e["timestamp_us"] = d.timestamp_us;
  if (const auto* t = d.text()) {
    e["text"] = t->text;
  } else if (const auto* j = d.json()) {
    e["value"] = j->value;
  } else if (const auto* c = d.control()) {
    e["kind"] = c->kind;
    e["payload"] = c->payload;
  } else if (const auto* a = d.audio()) {
    e["sample_rate"] = a->sample_rate;
    e["channels"] = a->channels;
    e["frames"] = a->frames();
    e["duration_ms"] = a->duration_s() * 1000.0;
  } else if (const auto* b = d.binary()) {
    e["bytes"] = b->bytes.size();
    e["mime_type"] = b->mime_type;
  } else if (const auto* t2 = d.tensor()) {
    boost::json::array shape;
    for (auto s : t2->shape) shape.push_back(s);
    e["shape"] = std::move(shape);
    e["dtype"] = t2->dtype;
    e["bytes"] = t2->data.size();
  }
  if (!d.metadata.empty()) e["metadata"] = d.metadata;
  return e;
}

class OutputCollector final : public Node {
 public:
  explicit OutputCollector(const NodeInit& init)
      : id_(init.node_id),
        array_(param_string(init.params, "format") == "array"),
        include_audio_(param_bool(init.params, "include_audio")),
        forward_(param_bool(init.params, "forward")),
        max_items_(std::size_t(param_int(init.params, "max_items"))) {}

  Status process(const DataPtr& in, Emitter& out) override {
    if (in->is_end_of_stream()) return {};
    if (in->audio() && !include_audio_) return forward_ ? out.emit(in) : Status{};
    if (items_.size() >= max_items_)
      return node_error(
          NodeErrorCode::process_failed,
          fmt::format("node {}: OutputCollector already holds max_items = {} entries; raise max_items "
                      "or collect fewer outputs",
                      id_, max_items_));
    items_.push_back(entry_of(*in));
    last_ts_ = in->timestamp_us;
    return forward_ ? out.emit(in) : Status{};
  }

  Status flush(Emitter& out) override {
    boost::json::object md{
        {"items", std::int64_t(items_.size())}, {"format", array_ ? "array" : "jsonl"}, {"node_id", id_}};
    DataPtr result;
    if (array_) {
      result = RuntimeData::make_json(std::move(items_), last_ts_, std::move(md));
    } else {
      std::string lines;
      for (const auto& e : items_) {
        lines += core::to_json(e);
        lines += '\n';
      }
      result = RuntimeData::make_text(std::move(lines), last_ts_, std::move(md));
    }
    items_ = {};
    return out.emit(std::move(result));
  }

 private:
  std::string id_;
  bool array_;
  bool include_audio_;
  bool forward_;
  std::size_t max_items_;
  boost::json::array items_;
  std::int64_t last_ts_ = 0;
};

NodeContract output_collector_contract() {
  return NodeContract{
      .node_type = "OutputCollector",
      .description =
          "Collects every input into one JSON document and emits it once at end of stream: a JSON array "
          "value "
          "(format array) or a text value with one JSON object per line (format jsonl). Each entry has type "
          "and "
          "timestamp_us plus the text, the JSON value, the control kind and payload, or for audio a summary "
          "(sample_rate, channels, frames, duration_ms) rather than the samples; non-empty metadata is kept.",
      .accepts = {},
      .emits = {DataType::json, DataType::text},
      .params =
          {
              ParamSpec{.name = "format",
                        .type = ParamType::string,
                        .default_value = "jsonl",
                        .description =
                            "Shape of the collection: jsonl (text, one JSON object per line) or array "
                            "(one JSON array).",
                        .choices = {"jsonl", "array"}},
              ParamSpec{.name = "include_audio",
                        .type = ParamType::boolean,
                        .default_value = true,
                        .description = "Whether audio inputs are recorded (as summaries) in the collection."},
              ParamSpec{.name = "forward",
                        .type = ParamType::boolean,
                        .default_value = false,
                        .description = "Whether every input is also passed on unchanged as it arrives."},
              ParamSpec{.name = "max_items",
                        .type = ParamType::integer,
                        .default_value = 100000,
                        .description =
                            "Most entries held; one more ends the stream with an error instead of growing "
                            "without bound.",
                        .min = 1,
                        .max = 100'000'000},
          },
  };
}

RM_REGISTER_NODE(OutputCollector, output_collector_contract());

}  // namespace
}  // namespace rm::nodes
