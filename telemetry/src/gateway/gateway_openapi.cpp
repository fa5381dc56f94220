// OpenAPI 3 document generated from the gateway's route table.
#include <cctype>

#include <boost/json.hpp>

#include "gateway_window.hpp"
#include "telemetry/gateway/gateway.hpp"
#include "telemetry/gateway/gateway_dashboard.hpp"

namespace rm::telemetry {

namespace json = boost::json;

namespace {

json::object ref(const std::string& name) {
  return schema_ref(name);
}

json::object schemas() {
  json::object s;
  s["Error"] = json::object{
      {"type", "object"},
      {"required", json::array{"error", "message", "code"}},
      {"properties",
       json::object{{"error", string_prop("Short machine-readable reason, e.g. bad_time_range")},
                    {"message", string_prop("What was wrong and what to do")},
                    {"code", json::object{{"type", "integer"}, {"description", "HTTP status"}}}}}};
  s["Health"] = json::object{
      {"type", "object"},
      {"required", json::array{"status", "gateway", "collector"}},
      {"properties",
       json::object{
           {"status", string_prop("ok while the gateway works")},
           {"gateway", string_prop("ok")},
           {"collector",
            json::object{{"type", "string"}, {"enum", json::array{"ok", "unhealthy", "unreachable"}}}},
           {"collector_error", string_prop("Why the collector is not ok")},
           {"nats", json::object{{"type", "object"},
                                 {"description",
                                  "Cluster mode (NATS_URL): connection state, server, applied and stream "
                                  "sequences; `collector` is then the NATS connection (ok | unreachable)"}}},
           {"gpus", json::object{{"type", "integer"}}},
           {"time", string_prop("Gateway time", "date-time")}}}};
  json::object gpu_props{
      {"id", string_prop("GPU id (UUID where present)")},
      {"uuid", string_prop("GPU UUID, empty in the wide format")},
      {"gpu_index", string_prop("gpu_id column of the DCGM export")},
      {"device", string_prop("Device name, e.g. nvidia0")},
      {"model", string_prop("Model name")},
      {"hostname", string_prop("Host of the GPU")},
      {"first_seen", string_prop("Oldest retained sample", "date-time")},
      {"last_seen", string_prop("Newest sample", "date-time")},
      {"samples", json::object{{"type", "integer"}, {"description", "Samples retained"}}},
      {"labels",
       json::object{{"type", "object"}, {"additionalProperties", json::object{{"type", "string"}}}}}};
  s["Gpu"] = json::object{{"type", "object"},
                          {"required", json::array{"id", "hostname", "last_seen"}},
                          {"properties", gpu_props}};
  s["GpuList"] = json::object{
      {"type", "object"},
      {"required", json::array{"count", "gpus"}},
      {"properties", json::object{{"count", json::object{{"type", "integer"}}},
                                  {"hostname", string_prop("Present on /api/v1/hosts/{hostname}/gpus")},
                                  {"gpus", json::object{{"type", "array"}, {"items", ref("Gpu")}}}}}};
  s["Point"] = json::object{
      {"type", "object"},
      {"required", json::array{"timestamp", "timestamp_ns", "timestamp_ns_str", "metric", "value"}},
      {"properties",
       json::object{
           {"timestamp", string_prop("Sample time (UTC), exact to the nanosecond", "date-time")},
           {"timestamp_ns",
            json::object{{"type", "integer"},
                         {"format", "int64"},
                         {"description",
                          "Unix nanoseconds. Above 2^53, so JavaScript's JSON.parse and jq "
                          "round it; read timestamp_ns_str or timestamp for the exact value"}}},
           {"timestamp_ns_str", json::object{{"type", "string"},
                                             {"pattern", "^-?[0-9]+$"},
                                             {"description",
                                              "timestamp_ns as a decimal string, exact in every JSON "
                                              "reader (BigInt(timestamp_ns_str) in JavaScript)"}}},
           {"metric", string_prop("Metric name, e.g. DCGM_FI_DEV_GPU_UTIL")},
           {"value", json::object{{"type", "number"}, {"format", "double"}}}}}};
  s["TelemetryPage"] = json::object{
      {"type", "object"},
      {"required", json::array{"gpu_id", "count", "points", "next_cursor"}},
      {"properties", json::object{{"gpu_id", string_prop("The GPU")},
                                  {"count", json::object{{"type", "integer"}}},
                                  {"points", json::object{{"type", "array"}, {"items", ref("Point")}}},
                                  {"next_cursor", json::object{{"type", "string"},
                                                               {"nullable", true},
                                                               {"description",
                                                                "Pass as cursor for the next "
                                                                "page; null on the last page"}}}}}};
  s["Latest"] = json::object{
      {"type", "object"},
      {"required", json::array{"gpu_id", "metrics"}},
      {"properties", json::object{{"gpu_id", string_prop("The GPU")},
                                  {"metrics", json::object{{"type", "array"}, {"items", ref("Point")}}}}}};
  s["HostList"] = json::object{
      {"type", "object"},
      {"required", json::array{"count", "hosts"}},
      {"properties",
       json::object{
           {"count", json::object{{"type", "integer"}}},
           {"hosts",
            json::object{
                {"type", "array"},
                {"items",
                 json::object{
                     {"type", "object"},
                     {"properties",
                      json::object{{"hostname", string_prop("Hostname")},
                                   {"gpu_count", json::object{{"type", "integer"}}},
                                   {"gpus", json::object{{"type", "array"},
                                                         {"items", json::object{{"type", "string"}}}}},
                                   {"last_seen", string_prop("Newest sample", "date-time")}}}}}}}}}};
  for (auto& [name, schema] : dashboard_schemas()) s[name] = schema;
  return s;
}

}  // namespace

json::value Gateway::openapi() const {
  json::object paths;
  for (const auto& route : routes_) {
    json::object op;
    op["operationId"] = route.operation_id;
    op["summary"] = route.summary;
    json::array params;
    json::object form_props;
    json::array form_required;
    for (const auto& p : route.params) {
      json::object schema{{"type", p.type}};
      if (p.in == "form") {  // fields of an application/x-www-form-urlencoded body
        schema["description"] = p.description;
        form_props[p.name] = p.repeatable ? json::value(json::object{{"type", "array"}, {"items", schema}})
                                          : json::value(schema);
        if (p.required) form_required.push_back(json::string(p.name));
        continue;
      }
      if (!p.format.empty()) schema["format"] = p.format;
      if (p.minimum) schema["minimum"] = *p.minimum;
      if (p.maximum) schema["maximum"] = *p.maximum;
      if (p.default_value) schema["default"] = *p.default_value;
      json::object param{
          {"name", p.name}, {"in", p.in}, {"required", p.required}, {"description", p.description}};
      if (p.repeatable) {
        param["schema"] = json::object{{"type", "array"}, {"items", schema}};
        param["style"] = "form";
        param["explode"] = true;
      } else {
        param["schema"] = schema;
      }
      params.push_back(std::move(param));
    }
    if (!params.empty()) op["parameters"] = std::move(params);
    if (!form_props.empty()) {
      json::object form_schema{{"type", "object"}, {"properties", std::move(form_props)}};
      if (!form_required.empty()) form_schema["required"] = std::move(form_required);
      op["requestBody"] =
          json::object{{"required", true},
                       {"content", json::object{{"application/x-www-form-urlencoded",
                                                 json::object{{"schema", std::move(form_schema)}}}}}};
    }
    json::object responses;
    for (const auto& r : route.responses) {
      json::object media;
      if (!r.schema_ref.empty()) {
        media["schema"] = ref(r.schema_ref);
      } else if (r.content_type == "application/json") {
        media["schema"] = json::object{{"type", "object"}};
      } else {
        media["schema"] = json::object{{"type", "string"}};
      }
      json::object content;
      content[r.content_type] = std::move(media);
      responses[std::to_string(r.status)] =
          json::object{{"description", r.description}, {"content", std::move(content)}};
    }
    op["responses"] = std::move(responses);
    std::string method = route.method;
    for (auto& c : method) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto& item = paths[route.path];
    if (!item.is_object()) item = json::object{};
    item.as_object()[method] = std::move(op);
  }
  return json::object{
      {"openapi", "3.0.3"},
      {"info", json::object{{"title", "GPU telemetry API gateway"},
                            {"version", options_.version},
                            {"description",
                             "Read-only REST API over the telemetry collected by the pipeline. Errors "
                             "are JSON bodies {error, message, code}."}}},
      {"paths", std::move(paths)},
      {"components", json::object{{"schemas", schemas()}}}};
}

}  // namespace rm::telemetry
