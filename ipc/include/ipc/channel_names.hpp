#pragma once
// Naming of sessions and channels on disk.
//
// Every session owns one directory, <root>/<session_id>, where root is $RM_IPC_DIR or
// /dev/shm/remotemedia. Each node has three channels in it:
//   {session_id}_{node_id}_input    host -> node data
//   {session_id}_{node_id}_output   node -> host data
//   {session_id}_{node_id}_control  host -> node control (READY/progress travel on output)
// Ids are restricted to [A-Za-z0-9._-] (not "." or ".."), so a name can never escape the
// session directory.
#include <filesystem>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

#include "ipc/ipc_error.hpp"

namespace rm::ipc {

inline constexpr std::string_view kDefaultIpcRoot = "/dev/shm/remotemedia";
inline constexpr std::string_view kIpcRootEnv = "RM_IPC_DIR";

// $RM_IPC_DIR when set and non-empty, else /dev/shm/remotemedia.
std::filesystem::path ipc_root();

// Checks an id (session or node) for the allowed character set; the error names `what`.
tl::expected<void, IpcError> validate_id(std::string_view id, std::string_view what);

// <ipc_root()>/<session_id>, or an error for an invalid id.
tl::expected<std::filesystem::path, IpcError> session_dir(std::string_view session_id);

enum class ChannelKind { input, output, control };

struct ChannelNames {
  std::string input;
  std::string output;
  std::string control;
};

// "{session_id}_{node_id}_{input|output|control}", or an error for an invalid id.
tl::expected<std::string, IpcError> channel_name(std::string_view session_id, std::string_view node_id,
                                                 ChannelKind kind);
tl::expected<ChannelNames, IpcError> channel_names(std::string_view session_id, std::string_view node_id);

// Removes every file in `dir` and then the directory itself. A missing directory is success.
// Used by the host at session end; segments that are still mapped stay valid for their
// holders (POSIX unlink semantics) but can no longer be opened.
tl::expected<void, IpcError> remove_session_dir(const std::filesystem::path& dir);

}  // namespace rm::ipc
