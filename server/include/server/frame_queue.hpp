#pragma once
// Frames waiting for one WebSocket's writer, bounded in bytes: the one place where outputs of a
// pipeline (server) or inputs of a client back up when the peer reads slowly.
//
// Guarantees: push() may be called from any thread and blocks while more than `max_bytes` are
// queued (backpressure into whoever produces), except for close frames, which always go in.
// Close frames and pushes marked `unbounded` never block.
// The writer (one coroutine on the socket's strand) drains with try_pop(); `wake` is called
// after a push that made the queue non-empty, so the writer can be woken through its strand.
// close() ends the queue: pushes return false at once (blocked ones wake up), try_pop() still
// hands out what is queued.
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

namespace rm::server {

struct Frame {
  enum class Kind { binary, text, close } kind = Kind::binary;
  std::string bytes;  // payload, or the close reason
  std::uint16_t close_code = 1000;
};

class FrameQueue {
 public:
  FrameQueue(std::size_t max_bytes, std::function<void()> wake)
      : max_bytes_(max_bytes), wake_(std::move(wake)) {}

  // `unbounded`: never block (small control frames pushed from the socket's own strand).
  bool push(Frame f, bool unbounded = false) {
    bool was_empty = false;
    {
      std::unique_lock lock(mutex_);
      if (f.kind != Frame::Kind::close && !unbounded) {
        not_full_.wait(lock, [&] { return closed_ || fits(f); });
      }
      if (closed_) return false;
      was_empty = append(std::move(f));
    }
    if (was_empty) wake_();
    return true;
  }

  // push() that never waits: nullopt (and `f` left as it was) while the queue is too full for it,
  // else whether it went in (false once closed). For a writer driven by the pushing thread itself.
  std::optional<bool> try_push(Frame& f) {
    bool was_empty = false;
    {
      std::lock_guard lock(mutex_);
      if (closed_) return false;
      if (f.kind != Frame::Kind::close && !fits(f)) return std::nullopt;
      was_empty = append(std::move(f));
    }
    if (was_empty) wake_();
    return true;
  }

  std::optional<Frame> try_pop() {
    std::optional<Frame> f;
    {
      std::lock_guard lock(mutex_);
      if (frames_.empty()) return std::nullopt;
      f = std::move(frames_.front());
      frames_.pop_front();
      bytes_ -= f->bytes.size();
    }
    not_full_.notify_all();
    return f;
  }

  void close() {
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
    }
    not_full_.notify_all();
  }

  bool closed() const {
    std::lock_guard lock(mutex_);
    return closed_;
  }
  std::size_t bytes() const {
    std::lock_guard lock(mutex_);
    return bytes_;
  }

 private:
  bool fits(const Frame& f) const { return bytes_ == 0 || bytes_ + f.bytes.size() <= max_bytes_; }
  // Returns whether the queue was empty before.
  bool append(Frame f) {
    const bool was_empty = frames_.empty();
    bytes_ += f.bytes.size();
    frames_.push_back(std::move(f));
    return was_empty;
  }

  const std::size_t max_bytes_;
  std::function<void()> wake_;
  mutable std::mutex mutex_;
  std::condition_variable not_full_;
  std::deque<Frame> frames_;
  std::size_t bytes_ = 0;
  bool closed_ = false;
};

}  // namespace rm::server
