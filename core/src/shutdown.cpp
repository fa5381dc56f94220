#include "core/shutdown.hpp"

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#include <pthread.h>
#include <unistd.h>

namespace rm::core {
namespace {

std::mutex g_mutex;
std::condition_variable g_cv;
std::vector<std::function<void()>> g_callbacks;
std::atomic<bool> g_requested{false};
std::atomic<bool> g_callbacks_done{false};  // waiters wake only after every callback ran
std::atomic<int> g_signal{0};
std::once_flag g_installed;

void trigger(int sig) {
  std::vector<std::function<void()>> callbacks;
  {
    std::lock_guard lock(g_mutex);
    if (g_requested.exchange(true)) return;
    g_signal = sig;
    callbacks = g_callbacks;
  }
  for (auto& cb : callbacks) cb();
  {
    std::lock_guard lock(g_mutex);
    g_callbacks_done = true;
  }
  g_cv.notify_all();
}

}  // namespace

void Shutdown::install() {
  std::call_once(g_installed, [] {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    std::thread([set] {
      for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0) continue;
        if (g_requested.load()) _exit(130);
        trigger(sig);
      }
    }).detach();
  });
}

void Shutdown::on_shutdown(std::function<void()> callback) {
  {
    std::lock_guard lock(g_mutex);
    if (!g_requested.load()) {
      g_callbacks.push_back(std::move(callback));
      return;
    }
  }
  callback();
}

bool Shutdown::requested() {
  return g_requested.load();
}
void Shutdown::request() {
  trigger(0);
}
int Shutdown::signal_number() {
  return g_signal.load();
}

void Shutdown::wait() {
  std::unique_lock lock(g_mutex);
  g_cv.wait(lock, [] { return g_callbacks_done.load(); });
}

bool Shutdown::wait_for(std::chrono::milliseconds timeout) {
  std::unique_lock lock(g_mutex);
  return g_cv.wait_for(lock, timeout, [] { return g_callbacks_done.load(); });
}

}  // namespace rm::core
