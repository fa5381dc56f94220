/* C ABI of the shared-memory channels (libremotemedia_ipc.so), for the Python SDK (ctypes)
 * and any other language. The same C++ code runs behind it on both sides of a channel.
 *
 * A channel is one SPSC ring in one shm file: <dir>/<name>, where dir is the session's
 * directory (default /dev/shm/remotemedia/<session_id>) and name is e.g.
 * "<session_id>_<node_id>_input". The creator sets the capacity; the peer opens it.
 * Each channel has exactly one producer and one consumer.
 *
 * Return codes: RM_IPC_OK (0) success; RM_IPC_EMPTY (1) nothing yet / timed out waiting for data
 * or space (not an error); negative values are errors, and rm_ipc_last_error() (thread-local)
 * then names the channel and what went wrong.
 * Timeouts are in milliseconds; 0 = do not wait, -1 = wait forever (still returns
 * RM_IPC_PEER_GONE when the peer dies).
 * Pointers returned by loan/receive stay valid until send/release (or close). Zero copy: the
 * producer writes into the loaned memory, the consumer reads the record in place.
 */
#ifndef RM_IPC_C_API_H
#define RM_IPC_C_API_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RM_IPC_OK 0
#define RM_IPC_EMPTY 1
#define RM_IPC_ERR_INVALID -1 /* bad argument, e.g. size larger than the ring can hold */
#define RM_IPC_ERR_IO -2      /* open/mmap/ftruncate failed (errno in the message) */
#define RM_IPC_ERR_FORMAT -3  /* wrong magic, layout version or size in the segment */
#define RM_IPC_PEER_GONE -4   /* the other side's process died or closed the channel */
#define RM_IPC_ERR_STATE -5   /* e.g. loan while a loan is outstanding, send without loan */

#define RM_IPC_ROLE_PRODUCER 0
#define RM_IPC_ROLE_CONSUMER 1

typedef struct rm_ipc_channel rm_ipc_channel;

/* Creates (or replaces) the segment <dir>/<name> with a ring of `capacity` bytes and attaches
 * with `role`. The directory is created if missing. */
int rm_ipc_channel_create(const char* dir, const char* name, uint64_t capacity, int role,
                          rm_ipc_channel** out);
/* Attaches to an existing segment with `role`; waits up to timeout_ms for it to appear. */
int rm_ipc_channel_open(const char* dir, const char* name, int role, int timeout_ms, rm_ipc_channel** out);
/* Detaches; marks this side closed so the peer sees RM_IPC_PEER_GONE after draining. The
 * file is removed only by rm_ipc_channel_unlink (the host does that at session end). */
void rm_ipc_channel_close(rm_ipc_channel* ch);
int rm_ipc_channel_unlink(const char* dir, const char* name);

/* Producer: reserve `size` bytes, write them at *ptr, then send `size_used` (<= size). */
int rm_ipc_loan(rm_ipc_channel* ch, uint64_t size, void** ptr, int timeout_ms);
int rm_ipc_send(rm_ipc_channel* ch, uint64_t size_used);
/* Convenience: loan + memcpy + send. */
int rm_ipc_send_copy(rm_ipc_channel* ch, const void* data, uint64_t size, int timeout_ms);

/* Consumer: the next record in place; then release it to free its space. */
int rm_ipc_receive(rm_ipc_channel* ch, const void** ptr, uint64_t* size, int timeout_ms);
int rm_ipc_release(rm_ipc_channel* ch);

/* Liveness: stamps this side's heartbeat (the library also stamps it on every call);
 * peer_alive answers 1 if the peer attached and is alive, 0 if not attached yet, negative if
 * it died. */
void rm_ipc_heartbeat(rm_ipc_channel* ch);
int rm_ipc_peer_alive(rm_ipc_channel* ch);

uint64_t rm_ipc_capacity(const rm_ipc_channel* ch);
/* The largest record that can be loaned from this channel. */
uint64_t rm_ipc_max_record(const rm_ipc_channel* ch);

const char* rm_ipc_last_error(void);
/* Layout version of the segment format, so the SDK can refuse a mismatched library. */
uint32_t rm_ipc_layout_version(void);

#ifdef __cplusplus
}
#endif
#endif /* RM_IPC_C_API_H */
