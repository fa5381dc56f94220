#include "channel.hpp"

#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <new>
#include <thread>
#include <vector>

namespace rm::ipc::detail {
namespace {

using std::chrono::nanoseconds;

std::string errno_text(int err) {
  return std::string(std::strerror(err));
}

std::string hex(std::uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%016llx", static_cast<unsigned long long>(v));
  return buf;
}

std::uint64_t own_pid_ns() {
  struct stat st {};
  if (::stat("/proc/self/ns/pid", &st) != 0) return 0;
  return static_cast<std::uint64_t>(st.st_ino);
}

// Cross-process futex: no FUTEX_PRIVATE_FLAG, the word lives in a MAP_SHARED mapping.
void futex_wait(std::atomic<std::uint32_t>* word, std::uint32_t expected, nanoseconds timeout) {
  struct timespec ts {};
  ts.tv_sec = static_cast<time_t>(timeout.count() / 1'000'000'000);
  ts.tv_nsec = static_cast<long>(timeout.count() % 1'000'000'000);
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), FUTEX_WAIT, expected, &ts, nullptr, 0);
}

void futex_wake(std::atomic<std::uint32_t>* word) {
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), FUTEX_WAKE, 1, nullptr, nullptr, 0);
}

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

// True if `pid` (in our pid namespace) no longer runs: gone from the process table, or a
// zombie/dead entry waiting to be reaped.
bool pid_dead(std::int32_t pid) {
  if (::kill(pid, 0) != 0) return errno == ESRCH;
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT;
  char buf[512];
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return false;
  buf[n] = '\0';
  const char* paren = std::strrchr(buf, ')');
  if (paren == nullptr || paren[1] == '\0' || paren[2] == '\0') return false;
  char state = paren[2];
  return state == 'Z' || state == 'X' || state == 'x';
}

// Process-wide heartbeat keeper: one background thread stamps the heartbeat of every attached
// endpoint, so a living process never looks stale to its peers however long it computes or
// idles. Fork-safe: the child gets a brand-new keeper (empty registry, fresh mutex and condition
// variable; the parent's endpoints are not the child's to keep alive). The parent's keeper is
// not reused in the child: its condition variable may have had the parent's keeper thread
// waiting on it, and using such a copy is undefined (it can block the child's keeper forever,
// and its heartbeats with it). The fresh keeper is constructed in place, in static storage:
// the atfork child handler runs before a spawner's exec, where allocating can deadlock (another
// thread may have held the allocator's lock at fork time). The parent's registry buffer is
// simply abandoned in the child.
struct Keeper {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::atomic<std::uint64_t>*> slots;
  bool running = false;
};

alignas(Keeper) unsigned char g_keeper_storage[sizeof(Keeper)];

Keeper& keeper() {
  static Keeper* const k = [] {
    auto* created = new (g_keeper_storage) Keeper();  // never destroyed: detached thread
    ::pthread_atfork([] { keeper().mu.lock(); }, [] { keeper().mu.unlock(); },
                     [] { new (g_keeper_storage) Keeper(); });  // no allocation: see above
    return created;
  }();
  return *k;
}

constexpr nanoseconds kHeartbeatPeriod = std::chrono::milliseconds(200);

void keeper_loop(Keeper* k) {
  std::unique_lock lock(k->mu);
  while (!k->slots.empty()) {
    std::uint64_t now = monotonic_ns();
    for (auto* s : k->slots) s->store(now, std::memory_order_relaxed);
    k->cv.wait_for(lock, kHeartbeatPeriod);
  }
  k->running = false;
}

void keeper_register(std::atomic<std::uint64_t>* slot) {
  Keeper& k = keeper();
  std::lock_guard lock(k.mu);
  k.slots.push_back(slot);
  if (!k.running) {
    k.running = true;
    std::thread(keeper_loop, &k).detach();
  }
}

void keeper_unregister(std::atomic<std::uint64_t>* slot) {
  Keeper& k = keeper();
  std::lock_guard lock(k.mu);
  k.slots.erase(std::remove(k.slots.begin(), k.slots.end(), slot), k.slots.end());
  if (k.slots.empty()) k.cv.notify_all();
}

const char* role_name(Role r) {
  return r == Role::producer ? "producer" : "consumer";
}

}  // namespace

std::uint64_t monotonic_ns() {
  struct timespec ts {};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

IpcError Channel::error(IpcErrc code, const std::string& what) const {
  return IpcError{code, "ipc channel " + path_ + ": " + what};
}

SideBlock& Channel::me() const {
  return role_ == Role::producer ? hdr_->producer : hdr_->consumer;
}
SideBlock& Channel::peer() const {
  return role_ == Role::producer ? hdr_->consumer : hdr_->producer;
}

tl::expected<std::unique_ptr<Channel>, IpcError> Channel::create(const std::filesystem::path& dir,
                                                                 std::string_view name,
                                                                 std::uint64_t capacity, Role role,
                                                                 const ChannelOptions& options) {
  auto ch = std::unique_ptr<Channel>(new Channel());
  ch->path_ = (dir / std::string(name)).string();
  ch->options_ = options;
  if (name.empty() || name.find('/') != std::string_view::npos || name == "." || name == "..")
    return tl::unexpected(
        ch->error(IpcErrc::invalid_argument, "invalid channel name (empty, '.', '..' or contains '/')"));
  std::uint64_t cap = align_up(capacity);
  if (capacity < kMinCapacity || cap > kMaxCapacity)
    return tl::unexpected(ch->error(IpcErrc::invalid_argument, "capacity " + std::to_string(capacity) +
                                                                   " out of range [" +
                                                                   std::to_string(kMinCapacity) + ", " +
                                                                   std::to_string(kMaxCapacity) + "]"));
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    return tl::unexpected(
        ch->error(IpcErrc::io, "cannot create directory " + dir.string() + ": " + ec.message()));
  // Build the segment under a temporary name and rename it into place, so an opener never
  // sees a half-initialised header.
  std::string tmp = (dir / ("." + std::string(name) + ".tmp." + std::to_string(::getpid()))).string();
  int fd = ::open(tmp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0660);
  if (fd < 0)
    return tl::unexpected(ch->error(IpcErrc::io, "cannot create " + tmp + ": " + errno_text(errno)));
  std::uint64_t size = kHeaderSize + cap;
  // posix_fallocate reserves the pages now: a full /dev/shm is an error here instead of a
  // SIGBUS on first touch later.
  int rc = ::posix_fallocate(fd, 0, static_cast<off_t>(size));
  if (rc != 0) {
    ::close(fd);
    ::unlink(tmp.c_str());
    return tl::unexpected(ch->error(IpcErrc::io, "cannot allocate " + std::to_string(size) +
                                                     " bytes: " + errno_text(rc) +
                                                     " (is /dev/shm large enough? docker: --shm-size)"));
  }
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  int map_errno = errno;
  ::close(fd);
  if (p == MAP_FAILED) {
    ::unlink(tmp.c_str());
    return tl::unexpected(ch->error(IpcErrc::io, "mmap failed: " + errno_text(map_errno)));
  }
  ch->base_ = static_cast<std::byte*>(p);
  ch->map_size_ = size;
  auto* hdr = new (p) SegmentHeader{};
  hdr->magic = kMagic;
  hdr->layout_version = kLayoutVersion;
  hdr->header_size = static_cast<std::uint32_t>(kHeaderSize);
  hdr->capacity = cap;
  hdr->created_ns = monotonic_ns();
  ch->hdr_ = hdr;
  ch->cap_ = cap;
  std::string final_path = ch->path_;
  if (::rename(tmp.c_str(), final_path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return tl::unexpected(ch->error(IpcErrc::io, "cannot rename into place: " + errno_text(err)));
  }
  if (auto a = ch->attach(role); !a) return tl::unexpected(a.error());
  return ch;
}

tl::expected<std::unique_ptr<Channel>, IpcError> Channel::open(const std::filesystem::path& dir,
                                                               std::string_view name, Role role,
                                                               nanoseconds timeout,
                                                               const ChannelOptions& options) {
  auto ch = std::unique_ptr<Channel>(new Channel());
  ch->path_ = (dir / std::string(name)).string();
  ch->options_ = options;
  if (name.empty() || name.find('/') != std::string_view::npos)
    return tl::unexpected(ch->error(IpcErrc::invalid_argument, "invalid channel name"));
  std::uint64_t start = monotonic_ns();
  int fd = -1;
  for (;;) {
    fd = ::open(ch->path_.c_str(), O_RDWR | O_CLOEXEC);
    if (fd >= 0) break;
    int err = errno;
    std::uint64_t waited = monotonic_ns() - start;
    if (err != ENOENT || static_cast<std::int64_t>(waited) >= timeout.count())
      return tl::unexpected(
          ch->error(IpcErrc::io, "cannot open: " + errno_text(err) +
                                     (err == ENOENT ? " (the creator has not created it yet?)" : "")));
    ::usleep(2000);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return tl::unexpected(ch->error(IpcErrc::format, "not a regular file"));
  }
  auto size = static_cast<std::uint64_t>(st.st_size);
  if (size < kHeaderSize + kMinCapacity) {
    ::close(fd);
    return tl::unexpected(
        ch->error(IpcErrc::format, "file is " + std::to_string(size) + " bytes, smaller than a " +
                                       std::to_string(kHeaderSize) + "-byte header plus minimal ring"));
  }
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  int map_errno = errno;
  ::close(fd);
  if (p == MAP_FAILED) return tl::unexpected(ch->error(IpcErrc::io, "mmap failed: " + errno_text(map_errno)));
  ch->base_ = static_cast<std::byte*>(p);
  ch->map_size_ = size;
  auto* hdr = static_cast<SegmentHeader*>(p);
  if (hdr->magic != kMagic)
    return tl::unexpected(ch->error(
        IpcErrc::format,
        "bad magic " + hex(hdr->magic) + " at offset 0 (expected " + hex(kMagic) + "): not an ipc segment"));
  if (hdr->layout_version != kLayoutVersion)
    return tl::unexpected(ch->error(IpcErrc::format, "layout version " + std::to_string(hdr->layout_version) +
                                                         " at offset 8, this library speaks " +
                                                         std::to_string(kLayoutVersion) +
                                                         ": use the same libremotemedia_ipc on both sides"));
  if (hdr->header_size != kHeaderSize)
    return tl::unexpected(ch->error(IpcErrc::format, "header size " + std::to_string(hdr->header_size) +
                                                         " at offset 12, expected " +
                                                         std::to_string(kHeaderSize)));
  if (hdr->capacity < kMinCapacity || hdr->capacity > kMaxCapacity || hdr->capacity % kRecordAlign != 0 ||
      kHeaderSize + hdr->capacity != size)
    return tl::unexpected(ch->error(IpcErrc::format, "capacity " + std::to_string(hdr->capacity) +
                                                         " at offset 16 does not match the file size " +
                                                         std::to_string(size) + " (header " +
                                                         std::to_string(kHeaderSize) + " + capacity)"));
  ch->hdr_ = hdr;
  ch->cap_ = hdr->capacity;
  if (auto a = ch->attach(role); !a) return tl::unexpected(a.error());
  return ch;
}

tl::expected<void, IpcError> Channel::unlink(const std::filesystem::path& dir, std::string_view name) {
  std::string p = (dir / std::string(name)).string();
  if (::unlink(p.c_str()) != 0 && errno != ENOENT)
    return tl::unexpected(
        IpcError{IpcErrc::io, "ipc channel " + p + ": cannot unlink: " + errno_text(errno)});
  return {};
}

tl::expected<void, IpcError> Channel::attach(Role role) {
  role_ = role;
  owner_pid_ = ::getpid();
  my_pid_ns_ = own_pid_ns();
  SideBlock& m = me();
  std::int32_t old = m.pid.load(std::memory_order_acquire);
  if (old != 0 && old != owner_pid_ && m.closed.load(std::memory_order_acquire) == 0) {
    // Someone else holds this role; allow taking over only if it is gone.
    bool same_ns = m.pid_ns.load(std::memory_order_relaxed) == my_pid_ns_;
    std::uint64_t hb = m.heartbeat_ns.load(std::memory_order_relaxed);
    bool stale = options_.peer_timeout.count() > 0 &&
                 monotonic_ns() - hb > static_cast<std::uint64_t>(options_.peer_timeout.count());
    if (!(same_ns && pid_dead(old)) && !stale) {
      closed_ = true;
      return tl::unexpected(error(IpcErrc::state, std::string("already has a live ") + role_name(role) +
                                                      " (pid " + std::to_string(old) + ")"));
    }
  }
  m.pid_ns.store(my_pid_ns_, std::memory_order_relaxed);
  m.heartbeat_ns.store(monotonic_ns(), std::memory_order_relaxed);
  m.waiting.store(0, std::memory_order_relaxed);
  m.loan_open.store(0, std::memory_order_relaxed);
  m.loan_cpu.store(0, std::memory_order_relaxed);
  m.spins_on_loans.store(role == Role::consumer && options_.loan_spin.count() > 0 ? 1 : 0,
                         std::memory_order_relaxed);
  m.closed.store(0, std::memory_order_relaxed);
  m.pid.store(owner_pid_, std::memory_order_release);
  keeper_register(&m.heartbeat_ns);
  registered_ = true;
  return {};
}

Channel::~Channel() {
  close();
  if (base_ != nullptr) ::munmap(base_, map_size_);
}

void Channel::close() {
  if (registered_) {
    keeper_unregister(&me().heartbeat_ns);
    registered_ = false;
  }
  if (closed_ || hdr_ == nullptr) {
    closed_ = true;
    return;
  }
  closed_ = true;
  // A forked child that inherited this object must not close the parent's endpoint.
  if (::getpid() != owner_pid_) return;
  cancel_loan();
  if (sample_span_) release();
  me().closed.store(1, std::memory_order_release);
  // Wake the peer unconditionally so a sleeper notices the close now, not at its next poll.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  peer().futex.fetch_add(1, std::memory_order_release);
  futex_wake(&peer().futex);
}

void Channel::heartbeat() {
  if (hdr_ != nullptr && !closed_) me().heartbeat_ns.store(monotonic_ns(), std::memory_order_relaxed);
}

PeerState Channel::peer_state() const {
  if (hdr_ == nullptr) return PeerState::gone;
  SideBlock& p = peer();
  std::int32_t pid = p.pid.load(std::memory_order_acquire);
  if (pid == 0) return PeerState::not_attached;
  if (p.closed.load(std::memory_order_acquire) != 0) return PeerState::gone;
  if (p.pid_ns.load(std::memory_order_relaxed) == my_pid_ns_ && my_pid_ns_ != 0 && pid_dead(pid))
    return PeerState::gone;
  if (options_.peer_timeout.count() > 0) {
    std::uint64_t hb = p.heartbeat_ns.load(std::memory_order_relaxed);
    std::uint64_t now = monotonic_ns();
    if (now > hb && now - hb > static_cast<std::uint64_t>(options_.peer_timeout.count()))
      return PeerState::gone;
  }
  return PeerState::alive;
}

void Channel::wake_peer() {
  // Pairs with the waiter's waiting=1; fence; re-check. Only a sleeping peer costs a syscall.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  SideBlock& p = peer();
  if (p.waiting.load(std::memory_order_relaxed) != 0) {
    p.futex.fetch_add(1, std::memory_order_release);
    futex_wake(&p.futex);
  }
}

template <typename Ready>
int Channel::wait_for(Ready&& ready, nanoseconds timeout) {
  if (ready()) return 1;
  auto gone = [&] {
    if (peer_state() != PeerState::gone) return false;
    return true;
  };
  if (timeout.count() <= 0) return gone() ? (ready() ? 1 : -1) : 0;
  std::uint64_t start = monotonic_ns();
  std::uint64_t limit =
      timeout == kForever ? UINT64_MAX : start + static_cast<std::uint64_t>(timeout.count());
  std::uint64_t spin_end = start + static_cast<std::uint64_t>(options_.spin.count());
  // Phase 1: spin; the common case under traffic, no syscalls. Not on the producer's CPU.
  if (me().closed.load(std::memory_order_relaxed) == 0 && !shares_cpu_with_producer()) {
    std::uint64_t now = start;
    while (now < spin_end && now < limit) {
      for (int i = 0; i < 16; ++i) {
        if (ready()) return 1;
        cpu_relax();
      }
      now = monotonic_ns();
    }
  }
  // Phase 2: sleep on our futex word in slices, checking the peer between slices. With
  // loan_spin, a consumer whose producer has a loan open spins on instead (bounded per loan):
  // the record is being filled and will be sent soon; a futex wake-up would delay it.
  SideBlock& m = me();
  std::uint32_t spent_gen = 0;
  std::uint64_t loan_spin_end = 0;
  for (;;) {
    if (gone()) return ready() ? 1 : -1;
    std::uint64_t now = monotonic_ns();
    if (now >= limit) return ready() ? 1 : 0;
    if (spin_for_open_loan(spent_gen, loan_spin_end, now)) {
      // Spin in chunks of up to 100 us: the liveness check above costs system calls.
      std::uint64_t chunk_end = std::min({loan_spin_end, limit, now + 100'000});
      while (now < chunk_end) {
        for (int i = 0; i < 16; ++i) {
          if (ready()) return 1;
          cpu_relax();
        }
        now = monotonic_ns();
      }
      continue;
    }
    std::uint64_t slice = std::min<std::uint64_t>(limit - now, options_.poll_slice.count());
    m.waiting.store(1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    std::uint32_t v = m.futex.load(std::memory_order_acquire);
    if (ready()) {
      m.waiting.store(0, std::memory_order_relaxed);
      return 1;
    }
    futex_waits_.fetch_add(1, std::memory_order_release);  // after waiting = 1
    futex_wait(&m.futex, v, nanoseconds(slice));
    m.waiting.store(0, std::memory_order_relaxed);
    if (ready()) return 1;
  }
}

bool Channel::shares_cpu_with_producer() const {
  if (role_ != Role::consumer || options_.spin_on_shared_cpu) return false;
  std::uint32_t cpu = hdr_->producer.loan_cpu.load(std::memory_order_relaxed);
  int mine = ::sched_getcpu();
  return cpu != 0 && mine >= 0 && cpu == static_cast<std::uint32_t>(mine) + 1;
}

bool Channel::spin_for_open_loan(std::uint32_t& spent_gen, std::uint64_t& loan_spin_end,
                                 std::uint64_t now) const {
  if (role_ != Role::consumer || options_.loan_spin.count() <= 0) return false;
  std::uint32_t gen = hdr_->producer.loan_open.load(std::memory_order_acquire);
  if (gen == 0 || shares_cpu_with_producer()) return false;
  if (gen != spent_gen) {  // a loan we have not spun for yet: a fresh budget
    spent_gen = gen;
    loan_spin_end = now + static_cast<std::uint64_t>(options_.loan_spin.count());
  }
  return now < loan_spin_end;
}

// Marks the loan open in the segment and, if the consumer spins on open loans, wakes it when
// it sleeps, so its wake-up overlaps the fill instead of following the send.
void Channel::open_loan() {
  if (++loan_gen_ == 0) loan_gen_ = 1;
  int cpu = ::sched_getcpu();
  hdr_->producer.loan_cpu.store(cpu >= 0 ? static_cast<std::uint32_t>(cpu) + 1 : 0,
                                std::memory_order_relaxed);
  hdr_->producer.loan_open.store(loan_gen_, std::memory_order_release);
  // An early wake-up is only a head start, so no fence (a full fence per loan halved the 1 KB
  // throughput): a consumer that missed it is woken by the send as always. `waiting` shares
  // the cache line with the tail that loan() has just read.
  SideBlock& cons = hdr_->consumer;
  if (cons.spins_on_loans.load(std::memory_order_relaxed) != 0 &&
      cons.waiting.load(std::memory_order_relaxed) != 0) {
    cons.futex.fetch_add(1, std::memory_order_release);
    futex_wake(&cons.futex);
  }
}

void Channel::close_loan() {
  if (hdr_ != nullptr && role_ == Role::producer)
    hdr_->producer.loan_open.store(0, std::memory_order_release);
}

tl::expected<std::optional<std::byte*>, IpcError> Channel::loan(std::uint64_t size, nanoseconds timeout) {
  if (role_ != Role::producer) return tl::unexpected(error(IpcErrc::state, "loan on a consumer"));
  if (closed_) return tl::unexpected(error(IpcErrc::state, "loan after close"));
  if (loan_size_)
    return tl::unexpected(error(IpcErrc::state, "loan while a loan is outstanding (send or drop it first)"));
  if (size > max_record())
    return tl::unexpected(error(IpcErrc::invalid_argument,
                                "record of " + std::to_string(size) + " bytes does not fit; the largest is " +
                                    std::to_string(max_record()) + " (create a larger channel)"));
  if (hdr_->consumer.closed.load(std::memory_order_acquire) != 0)
    return tl::unexpected(error(IpcErrc::peer_gone, "the consumer closed the channel"));
  const std::uint64_t need = record_span(size);
  SideBlock& prod = hdr_->producer;
  std::atomic<std::uint64_t>& tail = hdr_->consumer.pos;
  bool got = false;
  // Each call of this predicate may publish a wrap record (when the record does not fit
  // before the end of the ring); the consumer skips it and frees that space.
  auto fits = [&]() {
    std::uint64_t head = prod.pos.load(std::memory_order_relaxed);
    std::uint64_t t = tail.load(std::memory_order_acquire);
    std::uint64_t idx = head % cap_;
    std::uint64_t contig = cap_ - idx;
    if (need > contig) {
      if (head + contig - t > cap_) return false;  // not even room for the wrap record
      auto* rh = reinterpret_cast<RecordHeader*>(ring() + idx);
      rh->size = static_cast<std::uint32_t>(contig);
      rh->kind = kRecordWrap;
      prod.pos.store(head + contig, std::memory_order_release);
      wake_peer();
      head += contig;
      idx = 0;
    }
    if (head + need - t > cap_) return false;
    loan_offset_ = idx;
    got = true;
    return true;
  };
  int r = wait_for(fits, timeout);
  if (r < 0)
    return tl::unexpected(error(IpcErrc::peer_gone, "the consumer is gone (closed or its process died)"));
  if (!got) return std::optional<std::byte*>{};
  loan_size_ = need;
  open_loan();
  prod.heartbeat_ns.store(monotonic_ns(), std::memory_order_relaxed);
  return std::optional<std::byte*>{ring() + loan_offset_ + kRecordHeaderSize};
}

tl::expected<void, IpcError> Channel::commit(std::uint64_t used) {
  if (!loan_size_) return tl::unexpected(error(IpcErrc::state, "send without a loan"));
  if (record_span(used) > *loan_size_)
    return tl::unexpected(error(IpcErrc::invalid_argument,
                                "send of " + std::to_string(used) + " bytes exceeds the loaned size"));
  SideBlock& prod = hdr_->producer;
  auto* rh = reinterpret_cast<RecordHeader*>(ring() + loan_offset_);
  rh->size = static_cast<std::uint32_t>(used);
  rh->kind = kRecordData;
  std::uint64_t head = prod.pos.load(std::memory_order_relaxed);
  // The record was loaned at head % cap (after any wrap record already published).
  prod.pos.store(head + record_span(used), std::memory_order_release);
  loan_size_.reset();
  close_loan();
  wake_peer();
  return {};
}

void Channel::cancel_loan() {
  if (loan_size_) close_loan();
  loan_size_.reset();
}

tl::expected<std::optional<std::span<const std::byte>>, IpcError> Channel::receive(nanoseconds timeout) {
  using Result = std::optional<std::span<const std::byte>>;
  if (role_ != Role::consumer) return tl::unexpected(error(IpcErrc::state, "receive on a producer"));
  if (closed_) return tl::unexpected(error(IpcErrc::state, "receive after close"));
  if (sample_span_)
    return tl::unexpected(error(IpcErrc::state, "receive while a sample is outstanding (release it first)"));
  SideBlock& cons = hdr_->consumer;
  std::atomic<std::uint64_t>& head = hdr_->producer.pos;
  std::optional<IpcError> corrupt;
  // The predicate skips wrap records (freeing their space) and stops at a data record.
  auto available = [&]() {
    for (;;) {
      std::uint64_t t = cons.pos.load(std::memory_order_relaxed);
      std::uint64_t h = head.load(std::memory_order_acquire);
      if (h == t) return false;
      std::uint64_t idx = t % cap_;
      std::uint64_t avail = h - t;
      // The producer is untrusted: validate the framing before touching the payload.
      if (avail > cap_ || avail < kRecordHeaderSize) {
        corrupt = error(IpcErrc::format, "corrupt ring positions (head " + std::to_string(h) + ", tail " +
                                             std::to_string(t) + ")");
        return true;
      }
      const auto* rh = reinterpret_cast<const RecordHeader*>(ring() + idx);
      if (rh->kind == kRecordWrap) {
        if (rh->size != cap_ - idx || rh->size > avail) {
          corrupt = error(IpcErrc::format, "corrupt wrap record at ring offset " + std::to_string(idx));
          return true;
        }
        cons.pos.store(t + rh->size, std::memory_order_release);
        wake_peer();
        continue;
      }
      if (rh->kind != kRecordData || record_span(rh->size) > avail || record_span(rh->size) > cap_ - idx) {
        corrupt =
            error(IpcErrc::format, "corrupt record header (kind " + hex(rh->kind) + ", size " +
                                       std::to_string(rh->size) + ") at ring offset " + std::to_string(idx));
        return true;
      }
      sample_record_ = record_span(rh->size);
      sample_span_ = std::span<const std::byte>(ring() + idx + kRecordHeaderSize, rh->size);
      return true;
    }
  };
  int r = wait_for(available, timeout);
  if (corrupt) {
    sample_span_.reset();
    return tl::unexpected(*corrupt);
  }
  if (r < 0)
    return tl::unexpected(error(IpcErrc::peer_gone, "the producer is gone (closed or its process died)"));
  if (!sample_span_) return Result{};
  return Result{*sample_span_};
}

void Channel::release() {
  if (!sample_span_ || hdr_ == nullptr) return;
  SideBlock& cons = hdr_->consumer;
  cons.pos.store(cons.pos.load(std::memory_order_relaxed) + sample_record_, std::memory_order_release);
  sample_span_.reset();
  wake_peer();
}

}  // namespace rm::ipc::detail
