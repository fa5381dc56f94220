#include "docker/container_pool.hpp"

#include <vector>

#include "core/log.hpp"

namespace rm::docker {

ContainerPool::ContainerPool(std::chrono::milliseconds idle_time)
    : idle_time_(idle_time), reaper_([this] { reap_loop(); }) {}

ContainerPool::~ContainerPool() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  reaper_.join();
  std::map<std::string, Entry> left;
  {
    std::lock_guard lock(mu_);
    left.swap(entries_);
  }
  for (auto& [key, e] : left) {
    if (e.container) (void)e.container->stop();
  }
}

ContainerPool::Lease::Lease(Lease&& o) noexcept
    : pool_(std::exchange(o.pool_, nullptr)),
      key_(std::move(o.key_)),
      container_(std::exchange(o.container_, nullptr)),
      reused_(o.reused_) {}

ContainerPool::Lease& ContainerPool::Lease::operator=(Lease&& o) noexcept {
  if (this != &o) {
    release();
    pool_ = std::exchange(o.pool_, nullptr);
    key_ = std::move(o.key_);
    container_ = std::exchange(o.container_, nullptr);
    reused_ = o.reused_;
  }
  return *this;
}

ContainerPool::Lease::~Lease() { release(); }

void ContainerPool::Lease::release() {
  if (pool_ != nullptr) pool_->release(key_);
  pool_ = nullptr;
  container_ = nullptr;
}

Result<ContainerPool::Lease> ContainerPool::acquire(const std::string& key, const Factory& create) {
  std::unique_ptr<NodeContainer> dead;  // stopped outside the lock
  {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] {
      auto it = entries_.find(key);
      return it == entries_.end() || !it->second.creating;
    });
    auto it = entries_.find(key);
    if (it != entries_.end() && it->second.container && !it->second.container->exit_report()) {
      ++it->second.refs;
      Lease l;
      l.pool_ = this;
      l.key_ = key;
      l.container_ = it->second.container.get();
      l.reused_ = true;
      return l;
    }
    if (it != entries_.end()) {
      // Exited: whoever still holds a lease sees the exit through the container itself.
      if (it->second.refs > 0) {
        return docker_error(DockerErrorCode::container_failed,
                            "the shared container for this node has exited: " +
                                it->second.container->exit_report()->message);
      }
      dead = std::move(it->second.container);
      entries_.erase(it);
    }
    entries_[key].creating = true;
  }
  if (dead) (void)dead->stop();
  auto made = create();
  std::lock_guard lock(mu_);
  Entry& e = entries_[key];
  e.creating = false;
  cv_.notify_all();
  if (!made) {
    entries_.erase(key);
    return tl::unexpected(made.error());
  }
  e.container = std::move(*made);
  e.refs = 1;
  Lease l;
  l.pool_ = this;
  l.key_ = key;
  l.container_ = e.container.get();
  return l;
}

void ContainerPool::release(const std::string& key) {
  std::unique_ptr<NodeContainer> stop_now;
  {
    std::lock_guard lock(mu_);
    auto it = entries_.find(key);
    if (it == entries_.end() || it->second.refs == 0) return;
    if (--it->second.refs > 0) return;
    it->second.idle_since = std::chrono::steady_clock::now();
    if (idle_time_.count() == 0 || it->second.container->exit_report()) {
      stop_now = std::move(it->second.container);
      entries_.erase(it);
    }
  }
  cv_.notify_all();
  if (stop_now) (void)stop_now->stop();
}

void ContainerPool::reap_loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, std::max(std::chrono::milliseconds(20), idle_time_ / 4));
    const auto now = std::chrono::steady_clock::now();
    std::vector<std::unique_ptr<NodeContainer>> expired;
    for (auto it = entries_.begin(); it != entries_.end();) {
      Entry& e = it->second;
      if (!e.creating && e.refs == 0 && e.container && now - e.idle_since >= idle_time_) {
        expired.push_back(std::move(e.container));
        it = entries_.erase(it);
      } else {
        ++it;
      }
    }
    if (expired.empty()) continue;
    lock.unlock();
    for (auto& c : expired) {
      core::logger("docker")->debug("stopping idle shared container {}", c->name());
      (void)c->stop();
    }
    lock.lock();
  }
}

std::size_t ContainerPool::containers() const {
  std::lock_guard lock(mu_);
  std::size_t n = 0;
  for (const auto& [k, e] : entries_) n += e.container ? 1 : 0;
  return n;
}

std::size_t ContainerPool::leases(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  return it == entries_.end() ? 0 : it->second.refs;
}

}  // namespace rm::docker
