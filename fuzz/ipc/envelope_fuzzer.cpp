// libFuzzer target: the envelope decoder with full payload checks must never crash, read out of
// bounds or accept a payload whose own decoder then fails.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "ipc/envelope.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto in = std::as_bytes(std::span(data, size));
  auto env = rm::ipc::decode_envelope_checked(in);
  if (!env) return 0;
  // Accepted input: every view must lie inside the input buffer.
  auto inside = [&](const void* p, std::size_t n) {
    auto* b = reinterpret_cast<const std::byte*>(p);
    return n == 0 || (b >= in.data() && b + n <= in.data() + in.size());
  };
  if (!inside(env->session.data(), env->session.size()) || !inside(env->payload.data(), env->payload.size()))
    std::abort();
  using T = rm::ipc::EnvelopeType;
  switch (env->type) {
    case T::audio: {
      auto a = rm::ipc::decode_audio(env->payload);
      if (!a) std::abort();
      float sum = 0;
      for (std::size_t i = 0; i < a->sample_count(); ++i) sum += a->sample(i);
      (void)sum;
      break;
    }
    case T::tensor:
    case T::numpy:
      if (!rm::ipc::decode_tensor(env->payload)) std::abort();
      break;
    case T::binary:
      if (!rm::ipc::decode_binary(env->payload)) std::abort();
      break;
    case T::control:
      if (!rm::ipc::decode_control(env->payload)) std::abort();
      break;
    default:
      break;
  }
  return 0;
}
