// Broker frame decoder and PUBLISH decoder: arbitrary bytes give frames or an error value,
// never a crash, an over-read or an allocation above the frame limit.
#include <cstdint>
#include <string_view>

#include "telemetry/wire/protocol.hpp"

using namespace rm::telemetry;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FrameDecoder dec(1 << 16);
  PublishDecoder pub;
  dec.feed(std::string_view(reinterpret_cast<const char*>(data), size));
  while (true) {
    auto f = dec.next();
    if (!f || !*f) break;
    switch ((*f)->type) {
      case FrameType::hello:
        (void)decode_hello((*f)->payload);
        break;
      case FrameType::publish:
        (void)pub.decode((*f)->payload, "fuzz");
        break;
      case FrameType::ack:
        (void)decode_ack((*f)->payload);
        break;
      case FrameType::credit:
        (void)decode_credit((*f)->payload);
        break;
      case FrameType::error:
        (void)decode_error((*f)->payload);
        break;
    }
  }
  return 0;
}
