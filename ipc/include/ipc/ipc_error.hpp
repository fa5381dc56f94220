#pragma once
// Errors of the shared-memory transport. "Nothing yet" (no record, no space before the timeout)
// is not an error: the APIs return an empty std::optional for it.
#include <cstdint>
#include <string>
#include <string_view>

namespace rm::ipc {

enum class IpcErrc : std::uint8_t {
  invalid_argument,  // bad name, size larger than the ring can hold, ...
  io,                // open/mmap/ftruncate/mkdir failed; the message carries errno text
  format,            // wrong magic, layout version or size in a segment; corrupt record framing
  peer_gone,         // the other side closed the channel or its process died
  state,             // API misuse: a loan while a loan is outstanding, a second producer, ...
};

std::string_view to_string(IpcErrc code);

struct IpcError {
  IpcErrc code;
  // Names the channel (directory/name) or field and offset, and what to do about it.
  std::string message;
};

}  // namespace rm::ipc
