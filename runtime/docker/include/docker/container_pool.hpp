#pragma once
// Sharing node containers between sessions: containers with the same key (the caller's choice,
// typically config_hash + image + node type) are reference counted; a container whose count
// drops to zero stays warm for `idle_time`, so the next session reuses it without a cold start,
// and is then stopped and removed by the pool's reaper thread. Each session still talks to the
// shared container over its own channels (that routing is the node's business, not the pool's).
//
// Thread-safety: all members may be called from any thread. A Lease must not outlive its pool.
// A container that has exited is never handed out again; the next acquire() creates a new one.
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

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

   private:
    friend class ContainerPool;
    ContainerPool* pool_ = nullptr;
    std::string key_;
    NodeContainer* container_ = nullptr;
    bool reused_ = false;
  };

  // The running container for `key`, or a new one from `create` (called at most once per
  // missing key at a time; concurrent acquirers of the same key wait for it).
  Result<Lease> acquire(const std::string& key, const Factory& create);

  std::size_t containers() const;  // held: in use or warm
  std::size_t leases(const std::string& key) const;

 private:
  struct Entry {
    std::unique_ptr<NodeContainer> container;
    std::size_t refs = 0;
    std::chrono::steady_clock::time_point idle_since;
    bool creating = false;
  };
  void release(const std::string& key);
  void reap_loop();

  std::chrono::milliseconds idle_time_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Entry> entries_;
  bool stopping_ = false;
  std::thread reaper_;
};

}  // namespace rm::docker
