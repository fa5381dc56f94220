#pragma once
// Network namespaces for cutting one NATS node off (needs root; `ip` from iproute2):
//
//   netns <p>m  (clients: the test thread, collectors, streamers, gateways)
//     bridge br0 10.213.0.1/24 ── v0 ─┬─ eth0 10.213.0.10  netns <p>n0  (NATS node 0)
//                                 v1 ─┼─ eth0 10.213.0.11  netns <p>n1  (NATS node 1)
//                                 v2 ─┴─ eth0 10.213.0.12  netns <p>n2  (NATS node 2)
//
// All node-to-node and client traffic crosses the bridge, so a cut of one node's eth0 (iptables
// DROP inside its namespace: silence, no resets; or link down when iptables is missing) isolates
// it from its peers and from every client at once. Nothing touches the host's own network:
// every address, route and firewall rule lives in the namespaces. The namespaces are deleted in
// the destructor (their veths go with them); ones left by a crashed test run are deleted at the
// next start (their owner pid is gone).
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

#include <fmt/format.h>

namespace rm::telemetry::test {

class NetnsLab {
 public:
  static constexpr int kNodes = 3;

  // nullopt with `why` set when namespaces cannot be made here (not root, no `ip`, ...).
  static std::unique_ptr<NetnsLab> create(std::string& why) {
    if (::geteuid() != 0) {
      why = "network namespaces need root (ip netns add)";
      return nullptr;
    }
    if (!std::filesystem::exists(ip_path())) {
      why = "no ip command (iproute2)";
      return nullptr;
    }
    remove_stale();
    std::unique_ptr<NetnsLab> lab(new NetnsLab());
    if (auto err = lab->build(); !err.empty()) {
      why = err;
      return nullptr;
    }
    return lab;
  }
  ~NetnsLab() {
    leave();
    for (int i = 0; i < kNodes; ++i) run(fmt::format("ip netns del {}", node_ns(i)));
    run(fmt::format("ip netns del {}", client_ns()));
  }
  NetnsLab(const NetnsLab&) = delete;
  NetnsLab& operator=(const NetnsLab&) = delete;

  std::string client_ns() const { return prefix_ + "m"; }
  std::string node_ns(int i) const { return fmt::format("{}n{}", prefix_, i); }
  static std::string node_ip(int i) { return fmt::format("10.213.0.{}", 10 + i); }
  static std::string ip_path() {
    return std::filesystem::exists("/usr/sbin/ip") ? "/usr/sbin/ip" : "/sbin/ip";
  }
  bool has_iptables() const { return iptables_; }

  // Moves the calling thread (and so every process it forks) into the clients' namespace.
  bool enter() {
    if (host_fd_ < 0) host_fd_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    const int fd = ::open(fmt::format("/var/run/netns/{}", client_ns()).c_str(), O_RDONLY | O_CLOEXEC);
    const bool ok = fd >= 0 && ::setns(fd, CLONE_NEWNET) == 0;
    if (fd >= 0) ::close(fd);
    return ok;
  }
  void leave() {
    if (host_fd_ >= 0) {
      (void)::setns(host_fd_, CLONE_NEWNET);
      ::close(host_fd_);
      host_fd_ = -1;
    }
  }

  // Cuts node i off from everything (peers and clients), or heals the cut.
  bool cut(int i) {
    if (iptables_) {
      return run(fmt::format("ip netns exec {} iptables -A INPUT -i eth0 -j DROP", node_ns(i))) &&
             run(fmt::format("ip netns exec {} iptables -A OUTPUT -o eth0 -j DROP", node_ns(i)));
    }
    return run(fmt::format("ip -n {} link set eth0 down", node_ns(i)));
  }
  bool heal(int i) {
    if (iptables_) return run(fmt::format("ip netns exec {} iptables -F", node_ns(i)));
    return run(fmt::format("ip -n {} link set eth0 up", node_ns(i)));
  }

 private:
  NetnsLab() : prefix_(fmt::format("rmcut{}", ::getpid())) {}

  static bool run(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0; }

  // Namespaces of earlier runs whose process is gone.
  static void remove_stale() {
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator("/var/run/netns", ec)) {
      const std::string name = e.path().filename().string();
      if (name.rfind("rmcut", 0) != 0) continue;
      const long pid = std::strtol(name.c_str() + 5, nullptr, 10);
      if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) {
        run(fmt::format("ip netns del {}", name));
      }
    }
  }

  std::string build() {
    const std::string m = client_ns();
    auto step = [&](const std::string& cmd) { return run(cmd) ? std::string() : "failed: " + cmd; };
    std::vector<std::string> cmds = {
        fmt::format("ip netns add {}", m),
        fmt::format("ip -n {} link set lo up", m),
        fmt::format("ip -n {} link add br0 type bridge", m),
        fmt::format("ip -n {} addr add 10.213.0.1/24 dev br0", m),
        fmt::format("ip -n {} link set br0 up", m),
    };
    for (int i = 0; i < kNodes; ++i) {
      const std::string n = node_ns(i);
      cmds.push_back(fmt::format("ip netns add {}", n));
      cmds.push_back(fmt::format("ip -n {} link set lo up", n));
      cmds.push_back(fmt::format("ip -n {} link add v{} type veth peer name eth0 netns {}", m, i, n));
      cmds.push_back(fmt::format("ip -n {} link set v{} master br0", m, i));
      cmds.push_back(fmt::format("ip -n {} link set v{} up", m, i));
      cmds.push_back(fmt::format("ip -n {} addr add {}/24 dev eth0", n, node_ip(i)));
      cmds.push_back(fmt::format("ip -n {} link set eth0 up", n));
    }
    for (const auto& c : cmds) {
      if (auto err = step(c); !err.empty()) return err;
    }
    iptables_ = run(fmt::format("ip netns exec {} iptables -L -n", node_ns(0)));
    return {};
  }

  std::string prefix_;
  int host_fd_ = -1;
  bool iptables_ = false;
};

}  // namespace rm::telemetry::test
