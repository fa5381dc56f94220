#include "docker/container_pool.hpp"

#include <algorithm>
#include <vector>

#include "core/log.hpp"

namespace rm::docker {

struct ContainerPool::Lease::Entry {
  std::string key;
  std::unique_ptr<NodeContainer> container;
  std::size_t refs = 0;
  std::chrono::steady_clock::time_point idle_since;
  bool creating = false;
  bool retired = false;  // exited or discarded: in retired_, stopped when refs reach 0

  bool usable() const { return !retired && container && !container->exit_report(); }
};

ContainerPool::ContainerPool(std::chrono::milliseconds idle_time)
    : idle_time_(idle_time), reaper_([this] { reap_loop(); }) {}

ContainerPool::~ContainerPool() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  reaper_.join();
  std::vector<std::shared_ptr<Entry>> left;
  {
    std::lock_guard lock(mu_);
    for (auto& [key, e] : entries_) left.push_back(std::move(e));
    entries_.clear();
    for (auto& e : retired_) left.push_back(std::move(e));
    retired_.clear();
  }
  for (auto& e : left) {
    if (e && e->container) (void)e->container->stop();
  }
}

ContainerPool::Lease::Lease(Lease&& o) noexcept
    : pool_(std::exchange(o.pool_, nullptr)),
      entry_(std::move(o.entry_)),
      container_(std::exchange(o.container_, nullptr)),
      reused_(o.reused_) {}

ContainerPool::Lease& ContainerPool::Lease::operator=(Lease&& o) noexcept {
  if (this != &o) {
    release();
    pool_ = std::exchange(o.pool_, nullptr);
    entry_ = std::move(o.entry_);
    container_ = std::exchange(o.container_, nullptr);
    reused_ = o.reused_;
  }
  return *this;
}

ContainerPool::Lease::~Lease() {
  release();
}

void ContainerPool::Lease::release() {
  if (pool_ != nullptr && entry_) pool_->release(entry_);
  pool_ = nullptr;
  entry_.reset();
  container_ = nullptr;
}

void ContainerPool::Lease::discard() {
  if (pool_ != nullptr && entry_) pool_->discard(entry_);
}

Result<ContainerPool::Lease> ContainerPool::acquire(const std::string& key, const Factory& create) {
  std::unique_ptr<NodeContainer> dead;  // stopped outside the lock
  std::shared_ptr<Entry> entry;
  {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] {
      auto it = entries_.find(key);
      return it == entries_.end() || !it->second->creating;
    });
    auto it = entries_.find(key);
    if (it != entries_.end() && it->second->usable()) {
      ++it->second->refs;
      Lease l;
      l.pool_ = this;
      l.entry_ = it->second;
      l.container_ = it->second->container.get();
      l.reused_ = true;
      return l;
    }
    if (it != entries_.end()) {
      // Exited: whoever still holds a lease sees the exit through the container itself and
      // releases it later; a new container takes its place for new sessions.
      auto old = std::move(it->second);
      entries_.erase(it);
      old->retired = true;
      if (old->refs > 0) {
        retired_.push_back(std::move(old));
      } else {
        dead = std::move(old->container);
      }
    }
    entry = std::make_shared<Entry>();
    entry->key = key;
    entry->creating = true;
    entries_[key] = entry;
  }
  if (dead) (void)dead->stop();
  auto made = create();
  std::lock_guard lock(mu_);
  entry->creating = false;
  cv_.notify_all();
  if (!made) {
    if (auto it = entries_.find(key); it != entries_.end() && it->second == entry) entries_.erase(it);
    return tl::unexpected(made.error());
  }
  entry->container = std::move(*made);
  entry->refs = 1;
  Lease l;
  l.pool_ = this;
  l.entry_ = entry;
  l.container_ = entry->container.get();
  return l;
}

bool ContainerPool::has_live(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  return it != entries_.end() && !it->second->creating && it->second->usable();
}

void ContainerPool::release(const std::shared_ptr<Entry>& entry) {
  std::unique_ptr<NodeContainer> stop_now;
  {
    std::lock_guard lock(mu_);
    if (entry->refs == 0) return;
    if (--entry->refs > 0) return;
    entry->idle_since = std::chrono::steady_clock::now();
    if (entry->retired) {
      stop_now = std::move(entry->container);
      retired_.erase(std::remove(retired_.begin(), retired_.end(), entry), retired_.end());
    } else if (idle_time_.count() == 0 || (entry->container && entry->container->exit_report())) {
      stop_now = std::move(entry->container);
      if (auto it = entries_.find(entry->key); it != entries_.end() && it->second == entry)
        entries_.erase(it);
    }
  }
  cv_.notify_all();
  if (stop_now) (void)stop_now->stop();
}

void ContainerPool::discard(const std::shared_ptr<Entry>& entry) {
  std::lock_guard lock(mu_);
  if (entry->retired) return;
  entry->retired = true;
  if (auto it = entries_.find(entry->key); it != entries_.end() && it->second == entry) entries_.erase(it);
  retired_.push_back(entry);
  core::logger("docker")->warn("shared container {} will not be used for new sessions",
                               entry->container ? entry->container->name() : std::string("?"));
}

void ContainerPool::reap_loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, std::max(std::chrono::milliseconds(20), idle_time_ / 4));
    const auto now = std::chrono::steady_clock::now();
    std::vector<std::unique_ptr<NodeContainer>> expired;
    for (auto it = entries_.begin(); it != entries_.end();) {
      Entry& e = *it->second;
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
  for (const auto& [k, e] : entries_) n += e->container ? 1 : 0;
  for (const auto& e : retired_) n += e->container ? 1 : 0;
  return n;
}

std::size_t ContainerPool::leases(const std::string& key) const {
  std::lock_guard lock(mu_);
  std::size_t n = 0;
  if (auto it = entries_.find(key); it != entries_.end()) n += it->second->refs;
  for (const auto& e : retired_) n += e->key == key ? e->refs : 0;
  return n;
}

}  // namespace rm::docker
