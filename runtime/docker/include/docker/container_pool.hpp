#pragma once
// Sharing node containers between sessions: containers with the same key (the caller's choice,
// typically config_hash + image + node type) are reference counted; a container whose count
// drops to zero stays warm for `idle_time`, so the next session reuses it without a cold start,
// and is then stopped and removed by the pool's reaper thread. Each session still talks to the
// shared container over its own channels (that routing is the node's business, not the pool's).
//
// Thread-safety: all members may be called from any thread. A Lease must not outlive its pool.
// A container that has exited, or that a lease holder discarded (its runner server stopped
// answering), is never handed out again: the next acquire() creates a new one, and the old one
// is stopped as soon as its last lease is released.
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "docker/container_manager.hpp"

namespace rm::docker {

class ContainerPool {
 public:
  using Factory = std::function<Result<std::unique_ptr<NodeContainer>>()>;

  // idle_time 0: stop as soon as the last lease is released.
  explicit ContainerPool(std::chrono::milliseconds idle_time);
  ~ContainerPool();  // stops every container it holds
  ContainerPool(const ContainerPool&) = delete;
  ContainerPool& operator=(const ContainerPool&) = delete;

  class Lease {
   public:
    Lease() = default;
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&& other) noexcept;
    ~Lease();
    NodeContainer* operator->() const { return container_; }
    NodeContainer& operator*() const { return *container_; }
    explicit operator bool() const { return container_ != nullptr; }
    bool reused() const { return reused_; }  // true: an existing container was shared or warm
    void release();
    // This container is broken: never hand it out again (other leases keep it until they are
    // released; then it is stopped). Does not release this lease.
    void discard();

   private:
    friend class ContainerPool;
    struct Entry;
    ContainerPool* pool_ = nullptr;
    std::shared_ptr<Entry> entry_;
    NodeContainer* container_ = nullptr;
    bool reused_ = false;
  };

  // The running container for `key`, or a new one from `create` (called at most once per
  // missing key at a time; concurrent acquirers of the same key wait for it).
  Result<Lease> acquire(const std::string& key, const Factory& create);

  // True when acquire(key) would hand out a running container now (takes no lease: for a
  // caller deciding whether it has to prepare one, e.g. make sure the image exists).
  bool has_live(const std::string& key) const;

  std::size_t containers() const;  // held: in use, warm or discarded but still leased
  std::size_t leases(const std::string& key) const;

 private:
  using Entry = Lease::Entry;
  void release(const std::shared_ptr<Entry>& entry);
  void discard(const std::shared_ptr<Entry>& entry);
  void reap_loop();

  std::chrono::milliseconds idle_time_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::shared_ptr<Entry>> entries_;  // the one live entry per key
  std::vector<std::shared_ptr<Entry>> retired_;            // exited or discarded, still leased
  bool stopping_ = false;
  std::thread reaper_;
};

}  // namespace rm::docker
