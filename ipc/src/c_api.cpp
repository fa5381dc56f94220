// C ABI over detail::Channel (see ipc/c_api.h). No exception crosses this boundary.
#include "ipc/c_api.h"

#include <chrono>
#include <cstring>
#include <exception>
#include <memory>
#include <string>

#include "channel.hpp"

using rm::ipc::IpcErrc;
using rm::ipc::IpcError;
using rm::ipc::detail::Channel;

struct rm_ipc_channel {
  std::unique_ptr<Channel> ch;
  std::uint64_t loaned = 0;
};

namespace {

thread_local std::string g_last_error;

int fail(int code, std::string msg) {
  g_last_error = std::move(msg);
  return code;
}

int code_of(IpcErrc e) {
  switch (e) {
    case IpcErrc::invalid_argument:
      return RM_IPC_ERR_INVALID;
    case IpcErrc::io:
      return RM_IPC_ERR_IO;
    case IpcErrc::format:
      return RM_IPC_ERR_FORMAT;
    case IpcErrc::peer_gone:
      return RM_IPC_PEER_GONE;
    case IpcErrc::state:
      return RM_IPC_ERR_STATE;
  }
  return RM_IPC_ERR_STATE;
}

int fail(const IpcError& e) {
  return fail(code_of(e.code), e.message);
}

std::chrono::nanoseconds to_timeout(int ms) {
  if (ms < 0) return rm::ipc::kForever;
  return std::chrono::milliseconds(ms);
}

template <typename F>
int guarded(F&& f) {
  try {
    return f();
  } catch (const std::exception& e) {
    return fail(RM_IPC_ERR_STATE, std::string("internal error: ") + e.what());
  } catch (...) {
    return fail(RM_IPC_ERR_STATE, "internal error");
  }
}

bool role_ok(int role) {
  return role == RM_IPC_ROLE_PRODUCER || role == RM_IPC_ROLE_CONSUMER;
}

rm::ipc::detail::Role to_role(int role) {
  return role == RM_IPC_ROLE_PRODUCER ? rm::ipc::detail::Role::producer : rm::ipc::detail::Role::consumer;
}

}  // namespace

extern "C" {

int rm_ipc_channel_create(const char* dir, const char* name, uint64_t capacity, int role,
                          rm_ipc_channel** out) {
  return guarded([&] {
    if (dir == nullptr || name == nullptr || out == nullptr || !role_ok(role))
      return fail(RM_IPC_ERR_INVALID, "rm_ipc_channel_create: null argument or bad role");
    *out = nullptr;
    auto ch = Channel::create(dir, name, capacity, to_role(role), rm::ipc::ChannelOptions::from_env());
    if (!ch) return fail(ch.error());
    *out = new rm_ipc_channel{std::move(*ch), 0};
    return RM_IPC_OK;
  });
}

int rm_ipc_channel_open(const char* dir, const char* name, int role, int timeout_ms, rm_ipc_channel** out) {
  return guarded([&] {
    if (dir == nullptr || name == nullptr || out == nullptr || !role_ok(role))
      return fail(RM_IPC_ERR_INVALID, "rm_ipc_channel_open: null argument or bad role");
    *out = nullptr;
    auto ch = Channel::open(
        dir, name, to_role(role),
        timeout_ms < 0 ? std::chrono::nanoseconds(std::chrono::hours(24 * 365)) : to_timeout(timeout_ms),
        rm::ipc::ChannelOptions::from_env());
    if (!ch) return fail(ch.error());
    *out = new rm_ipc_channel{std::move(*ch), 0};
    return RM_IPC_OK;
  });
}

void rm_ipc_channel_close(rm_ipc_channel* ch) {
  if (ch == nullptr) return;
  try {
    delete ch;
  } catch (...) {
  }
}

int rm_ipc_channel_unlink(const char* dir, const char* name) {
  return guarded([&] {
    if (dir == nullptr || name == nullptr)
      return fail(RM_IPC_ERR_INVALID, "rm_ipc_channel_unlink: null argument");
    auto r = Channel::unlink(dir, name);
    if (!r) return fail(r.error());
    return RM_IPC_OK;
  });
}

int rm_ipc_loan(rm_ipc_channel* ch, uint64_t size, void** ptr, int timeout_ms) {
  return guarded([&] {
    if (ch == nullptr || ptr == nullptr) return fail(RM_IPC_ERR_INVALID, "rm_ipc_loan: null argument");
    *ptr = nullptr;
    auto r = ch->ch->loan(size, to_timeout(timeout_ms));
    if (!r) return fail(r.error());
    if (!*r) return RM_IPC_EMPTY;
    ch->loaned = size;
    *ptr = **r;
    return RM_IPC_OK;
  });
}

int rm_ipc_send(rm_ipc_channel* ch, uint64_t size_used) {
  return guarded([&] {
    if (ch == nullptr) return fail(RM_IPC_ERR_INVALID, "rm_ipc_send: null channel");
    if (ch->ch->loan_outstanding() && size_used > ch->loaned)
      return fail(RM_IPC_ERR_INVALID, "ipc channel " + ch->ch->path() + ": send of " +
                                          std::to_string(size_used) + " bytes exceeds the loan of " +
                                          std::to_string(ch->loaned));
    auto r = ch->ch->commit(size_used);
    if (!r) return fail(r.error());
    return RM_IPC_OK;
  });
}

int rm_ipc_send_copy(rm_ipc_channel* ch, const void* data, uint64_t size, int timeout_ms) {
  return guarded([&] {
    if (ch == nullptr || (data == nullptr && size != 0))
      return fail(RM_IPC_ERR_INVALID, "rm_ipc_send_copy: null argument");
    void* p = nullptr;
    int rc = rm_ipc_loan(ch, size, &p, timeout_ms);
    if (rc != RM_IPC_OK) return rc;
    if (size != 0) std::memcpy(p, data, size);
    return rm_ipc_send(ch, size);
  });
}

int rm_ipc_receive(rm_ipc_channel* ch, const void** ptr, uint64_t* size, int timeout_ms) {
  return guarded([&] {
    if (ch == nullptr || ptr == nullptr || size == nullptr)
      return fail(RM_IPC_ERR_INVALID, "rm_ipc_receive: null argument");
    *ptr = nullptr;
    *size = 0;
    auto r = ch->ch->receive(to_timeout(timeout_ms));
    if (!r) return fail(r.error());
    if (!*r) return RM_IPC_EMPTY;
    *ptr = (*r)->data();
    *size = (*r)->size();
    return RM_IPC_OK;
  });
}

int rm_ipc_release(rm_ipc_channel* ch) {
  return guarded([&] {
    if (ch == nullptr) return fail(RM_IPC_ERR_INVALID, "rm_ipc_release: null channel");
    if (!ch->ch->sample_outstanding())
      return fail(RM_IPC_ERR_STATE, "ipc channel " + ch->ch->path() + ": release without a received record");
    ch->ch->release();
    return RM_IPC_OK;
  });
}

void rm_ipc_heartbeat(rm_ipc_channel* ch) {
  if (ch != nullptr) ch->ch->heartbeat();
}

int rm_ipc_peer_alive(rm_ipc_channel* ch) {
  if (ch == nullptr) return fail(RM_IPC_ERR_INVALID, "rm_ipc_peer_alive: null channel");
  switch (ch->ch->peer_state()) {
    case rm::ipc::PeerState::alive:
      return 1;
    case rm::ipc::PeerState::not_attached:
      return 0;
    case rm::ipc::PeerState::gone:
      return fail(RM_IPC_PEER_GONE, "ipc channel " + ch->ch->path() + ": the peer is gone");
  }
  return 0;
}

uint64_t rm_ipc_capacity(const rm_ipc_channel* ch) {
  return ch == nullptr ? 0 : ch->ch->capacity();
}

uint64_t rm_ipc_max_record(const rm_ipc_channel* ch) {
  return ch == nullptr ? 0 : ch->ch->max_record();
}

const char* rm_ipc_last_error(void) {
  return g_last_error.c_str();
}

uint32_t rm_ipc_layout_version(void) {
  return rm::ipc::detail::kLayoutVersion;
}

}  // extern "C"
