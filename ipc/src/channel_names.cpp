#include "ipc/channel_names.hpp"

#include <cstdlib>
#include <system_error>

namespace rm::ipc {

std::filesystem::path ipc_root() {
  if (const char* s = std::getenv(std::string(kIpcRootEnv).c_str()); s != nullptr && *s != '\0') return s;
  return std::string(kDefaultIpcRoot);
}

tl::expected<void, IpcError> validate_id(std::string_view id, std::string_view what) {
  if (id.empty() || id == "." || id == "..")
    return tl::unexpected(IpcError{IpcErrc::invalid_argument,
                                   std::string(what) + " '" + std::string(id) + "' is empty or a dot name"});
  if (id.size() > 200)
    return tl::unexpected(
        IpcError{IpcErrc::invalid_argument, std::string(what) + " is longer than 200 characters"});
  for (std::size_t i = 0; i < id.size(); ++i) {
    char c = id[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '-' || c == '.';
    if (!ok)
      return tl::unexpected(
          IpcError{IpcErrc::invalid_argument, std::string(what) + " '" + std::string(id) +
                                                  "' has a character outside [A-Za-z0-9._-] at offset " +
                                                  std::to_string(i)});
  }
  return {};
}

tl::expected<std::filesystem::path, IpcError> session_dir(std::string_view session_id) {
  if (auto v = validate_id(session_id, "session id"); !v) return tl::unexpected(v.error());
  return ipc_root() / std::string(session_id);
}

tl::expected<std::string, IpcError> channel_name(std::string_view session_id, std::string_view node_id,
                                                 ChannelKind kind) {
  if (auto v = validate_id(session_id, "session id"); !v) return tl::unexpected(v.error());
  if (auto v = validate_id(node_id, "node id"); !v) return tl::unexpected(v.error());
  std::string_view suffix = kind == ChannelKind::input    ? "input"
                            : kind == ChannelKind::output ? "output"
                                                          : "control";
  return std::string(session_id) + "_" + std::string(node_id) + "_" + std::string(suffix);
}

tl::expected<ChannelNames, IpcError> channel_names(std::string_view session_id, std::string_view node_id) {
  auto in = channel_name(session_id, node_id, ChannelKind::input);
  if (!in) return tl::unexpected(in.error());
  ChannelNames n;
  n.input = *in;
  n.output = *channel_name(session_id, node_id, ChannelKind::output);
  n.control = *channel_name(session_id, node_id, ChannelKind::control);
  return n;
}

tl::expected<void, IpcError> remove_session_dir(const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec)) return {};
  std::filesystem::remove_all(dir, ec);
  if (ec)
    return tl::unexpected(
        IpcError{IpcErrc::io, "cannot remove session directory " + dir.string() + ": " + ec.message()});
  return {};
}

}  // namespace rm::ipc
