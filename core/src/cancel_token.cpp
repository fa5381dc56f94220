#include "core/cancel_token.hpp"

namespace rm::core {

void CancelToken::cancel() {
  std::lock_guard lock(state_->mu);
  if (state_->flag.exchange(true)) return;
  // Run under the lock so a registration being destroyed waits for its callback to finish.
  for (auto& [id, callback] : state_->callbacks) callback();
  state_->callbacks.clear();
}

CancelToken::Registration CancelToken::on_cancel(std::function<void()> callback) const {
  std::unique_lock lock(state_->mu);
  if (state_->flag.load()) {
    lock.unlock();
    callback();
    return {};
  }
  const std::uint64_t id = ++state_->next_id;
  state_->callbacks.emplace(id, std::move(callback));
  return Registration(state_, id);
}

CancelToken::Registration& CancelToken::Registration::operator=(Registration&& other) noexcept {
  if (this != &other) {
    reset();
    state_ = std::move(other.state_);
    id_ = other.id_;
  }
  return *this;
}

void CancelToken::Registration::reset() {
  if (!state_) return;
  std::lock_guard lock(state_->mu);
  state_->callbacks.erase(id_);
  state_.reset();
}

}  // namespace rm::core
