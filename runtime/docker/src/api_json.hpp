#pragma once
// Internal to the Engine API calls: reading the daemon's JSON answers and turning error
// statuses into DockerErrors with the daemon's own message.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include <boost/json.hpp>

#include "docker/client.hpp"
#include "docker/docker_error.hpp"

namespace rm::docker::detail {

// The API's errors are {"message": "..."}; falls back to the raw body, then to the status.
std::string api_message(int status, std::string_view body);
DockerErrorCode code_for_status(int status);  // 404 not_found, 409 conflict, else api_error
tl::unexpected<DockerError> status_error(std::string_view what, int status, std::string_view body);

// Field readers that yield "" / 0 / {} for a missing or mistyped field.
std::string str(const boost::json::object& o, std::string_view key);
std::int64_t num(const boost::json::object& o, std::string_view key);
std::map<std::string, std::string> labels_of(const boost::json::object& o, std::string_view key);
const boost::json::object& obj(const boost::json::object& o, std::string_view key);

Result<boost::json::value> parse_json(std::string_view body, std::string_view what);
// The `filters` query value selecting every given label ("" matches any value).
std::string label_filters(const std::map<std::string, std::string>& labels);

// A streamed answer (build and pull progress, logs): every body piece goes to `sink`, and the
// first 4 KB are kept too, since the status is only known after the call and an error answer
// is one short JSON object.
struct StreamedAnswer {
  int status = 0;
  std::string head;
};
Result<StreamedAnswer> stream_answer(const DockerClient& client, std::string_view method,
                                     std::string_view path, std::string_view body,
                                     std::string_view content_type,
                                     const std::function<void(std::string_view)>& sink,
                                     std::chrono::milliseconds timeout, const CancelToken* cancel);

}  // namespace rm::docker::detail
