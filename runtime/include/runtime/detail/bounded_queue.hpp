#pragma once
// A bounded multi-producer / single-consumer FIFO used as a node's input queue.
//
// Guarantees: at most `capacity` items are held; push() blocks while full (backpressure) and
// pop_batch() blocks while empty. Both first spin for a short, configurable time (so a busy
// pipeline hands items over without a system call) and then sleep on a condition variable;
// wake-ups are only signalled when the other side is actually asleep. cancel() wakes everyone:
// push() then returns false and pop_batch() returns 0, so no thread stays blocked. close() ends
// the stream gracefully instead: later pushes fail, pop_batch() drains what is left, then
// returns 0. try_push_all() never blocks: it fills several queues at once or none of them.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define RM_CPU_RELAX() _mm_pause()
#else
#define RM_CPU_RELAX() std::this_thread::yield()
#endif

namespace rm::runtime::detail {

template <typename T>
class BoundedQueue {
 public:
  explicit BoundedQueue(std::size_t capacity, std::chrono::microseconds spin = std::chrono::microseconds(50))
      : ring_(capacity ? capacity : 1), spin_(spin) {}

  // False if the queue was cancelled (the item is dropped).
  bool push(T item) {
    std::unique_lock lock(mutex_);
    if (count_.load(std::memory_order_relaxed) == ring_.size() && !cancelled_) {
      lock.unlock();
      spin_until(
          [&] { return count_.load(std::memory_order_acquire) < ring_.size() || cancelled_flag_.load(); });
      lock.lock();
      while (count_.load(std::memory_order_relaxed) == ring_.size() && !cancelled_ && !closed_) {
        ++producers_waiting_;
        not_full_.wait(lock);
        --producers_waiting_;
      }
    }
    if (cancelled_ || closed_) return false;
    bool wake = insert_locked(std::move(item));
    lock.unlock();
    if (wake) not_empty_.notify_one();
    return true;
  }

  // Never blocks: pushes a copy of `item` into every queue of `queues`, or into none (false)
  // if any of them is full, closed or cancelled. The queues are locked together (in address
  // order), so no consumer sees the item in one queue while another refused it.
  static bool try_push_all(std::vector<BoundedQueue*> qs, const T& item) {
    std::sort(qs.begin(), qs.end());
    qs.erase(std::unique(qs.begin(), qs.end()), qs.end());
    std::vector<std::unique_lock<std::mutex>> locks;
    locks.reserve(qs.size());
    for (auto* q : qs) {
      locks.emplace_back(q->mutex_);
      if (q->cancelled_ || q->closed_ || q->count_.load(std::memory_order_relaxed) == q->ring_.size())
        return false;
    }
    std::vector<BoundedQueue*> wake;
    for (auto* q : qs) {
      if (q->insert_locked(item)) wake.push_back(q);
    }
    locks.clear();
    for (auto* q : wake) q->not_empty_.notify_one();
    return true;
  }

  // Moves up to `max` items into `out` (appended). Blocks while empty; 0 = cancelled.
  std::size_t pop_batch(std::vector<T>& out, std::size_t max) {
    std::unique_lock lock(mutex_);
    if (count_.load(std::memory_order_relaxed) == 0 && !cancelled_) {
      lock.unlock();
      spin_until([&] { return count_.load(std::memory_order_acquire) > 0 || cancelled_flag_.load(); });
      lock.lock();
      while (count_.load(std::memory_order_relaxed) == 0 && !cancelled_ && !closed_) {
        consumer_waiting_ = true;
        not_empty_.wait(lock);
        consumer_waiting_ = false;
      }
    }
    if (cancelled_) return 0;
    std::size_t n = std::min(max, count_.load(std::memory_order_relaxed));
    for (std::size_t i = 0; i < n; ++i) {
      out.push_back(std::move(ring_[head_]));
      ring_[head_] = T{};
      head_ = (head_ + 1) % ring_.size();
    }
    count_.fetch_sub(n, std::memory_order_release);
    bool wake = producers_waiting_ > 0;
    lock.unlock();
    if (wake) not_full_.notify_all();
    return n;
  }

  void close() {
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
      cancelled_flag_.store(true);  // ends spinning; the real state is read under the lock
    }
    not_empty_.notify_all();
    not_full_.notify_all();
  }

  void cancel() {
    {
      std::lock_guard lock(mutex_);
      cancelled_ = true;
      cancelled_flag_.store(true);
    }
    not_empty_.notify_all();
    not_full_.notify_all();
  }

  std::size_t size() const { return count_.load(std::memory_order_acquire); }
  std::size_t capacity() const { return ring_.size(); }

 private:
  // Appends under the lock; true if the consumer sleeps and must be woken.
  bool insert_locked(T item) {
    ring_[(head_ + count_.load(std::memory_order_relaxed)) % ring_.size()] = std::move(item);
    count_.fetch_add(1, std::memory_order_release);
    return consumer_waiting_;
  }

  template <typename Pred>
  void spin_until(Pred done) {
    if (spin_.count() <= 0) return;
    auto deadline = std::chrono::steady_clock::now() + spin_;
    for (unsigned i = 1;; ++i) {
      if (done()) return;
      RM_CPU_RELAX();
      if ((i & 63) == 0) {
        if (std::chrono::steady_clock::now() > deadline) return;
        // On an oversubscribed machine let the thread we wait for run.
        std::this_thread::yield();
      }
    }
  }

  std::mutex mutex_;
  std::condition_variable not_empty_;
  std::condition_variable not_full_;
  std::vector<T> ring_;
  std::size_t head_ = 0;
  std::atomic<std::size_t> count_{0};
  bool cancelled_ = false;
  bool closed_ = false;
  std::atomic<bool> cancelled_flag_{false};
  bool consumer_waiting_ = false;
  int producers_waiting_ = 0;
  std::chrono::microseconds spin_;
};

}  // namespace rm::runtime::detail
