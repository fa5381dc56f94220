#pragma once
// CancelToken: a flag one thread sets to abort work another thread runs. Copies share the flag.
//
// Guarantees:
// - cancel() and cancelled() may be called from any thread.
// - A callback registered with on_cancel() runs exactly once if cancel() is called while the
//   registration lives (on the cancelling thread, or at once on the registering thread when the
//   token is already cancelled), and never after the registration is destroyed: destroying a
//   registration waits for a callback that is running. Callbacks must be short and must not
//   register or destroy registrations on the same token (they typically post to an io_context).
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>

namespace rm::core {

class CancelToken {
  struct State {
    std::atomic<bool> flag{false};
    std::mutex mu;
    std::uint64_t next_id = 0;
    std::map<std::uint64_t, std::function<void()>> callbacks;
  };

 public:
  class Registration {
   public:
    Registration() = default;
    Registration(const Registration&) = delete;
    Registration& operator=(const Registration&) = delete;
    Registration(Registration&& other) noexcept : state_(std::move(other.state_)), id_(other.id_) {}
    Registration& operator=(Registration&& other) noexcept;
    ~Registration() { reset(); }
    void reset();

   private:
    friend class CancelToken;
    Registration(std::shared_ptr<State> state, std::uint64_t id) : state_(std::move(state)), id_(id) {}
    std::shared_ptr<State> state_;
    std::uint64_t id_ = 0;
  };

  void cancel();
  bool cancelled() const { return state_->flag.load(); }
  [[nodiscard]] Registration on_cancel(std::function<void()> callback) const;

 private:
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

}  // namespace rm::core
