// Tests against a real dockerd (label docker; scripts/docker-up.sh starts it and builds the
// base images). Each test skips when the daemon is unreachable, unless RM_REQUIRE_DOCKER=1
// (CI), where that is a failure. Every test uses its own names, labels and temp directories and
// removes the containers and images it creates.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <random>
#include <thread>

#include "docker/client.hpp"
#include "docker/container_manager.hpp"
#include "docker/container_pool.hpp"
#include "docker/doctor.hpp"
#include "docker/image_builder.hpp"
#include "support/docker_test.hpp"
#include "support/free_port.hpp"
#include "support/temp_dir.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using rm::docker::DockerClient;
using rm::docker::DockerErrorCode;
using rm::docker::ImageBuilder;
using rm::docker::NodeContainer;
using rm::docker::NodeContainerSpec;
using rm::runtime::DockerConfig;

namespace {

using rm::test::require_docker;
using rm::test::unique;

struct TempDir : rm::test::TempDir {
  explicit TempDir(const std::string& tag) : rm::test::TempDir("rm-dkr-" + tag) {}
};

int free_port() {
  return rm::test::free_port();
}

bool port_open(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

// A PEP 503 package index on 127.0.0.1 holding one pure-Python wheel written by hand (a zip
// with the module, METADATA, WHEEL and RECORD), served by `python3 -m http.server`.
class LocalIndex {
 public:
  LocalIndex(const std::string& name, const std::string& version, const std::string& value) : dir_("index") {
    fs::create_directories(dir_.path() / "packages");
    fs::create_directories(dir_.path() / "simple" / name);
    const fs::path script = dir_.path() / "make_wheel.py";
    std::ofstream(script) << R"PY(
import base64, hashlib, os, sys, zipfile
out, name, ver, value = sys.argv[1:5]
dist = f"{name}-{ver}.dist-info"
files = {
    f"{name}/__init__.py": f"VALUE = {value!r}\n",
    f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {ver}\n",
    f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: remotemedia-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
record = []
for path, text in files.items():
    data = text.encode()
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    record.append(f"{path},sha256={digest},{len(data)}")
record.append(f"{dist}/RECORD,,")
files[f"{dist}/RECORD"] = "\n".join(record) + "\n"
with zipfile.ZipFile(os.path.join(out, f"{name}-{ver}-py3-none-any.whl"), "w") as z:
    for path, text in files.items():
        z.writestr(path, text)
)PY";
    const std::string cmd = "/usr/bin/python3 '" + script.string() + "' '" +
                            (dir_.path() / "packages").string() + "' " + name + " " + version + " '" + value +
                            "'";
    ok_ = std::system(cmd.c_str()) == 0;
    const std::string wheel = name + "-" + version + "-py3-none-any.whl";
    std::ofstream(dir_.path() / "simple" / name / "index.html")
        << "<!DOCTYPE html><html><body><a href=\"../../packages/" << wheel << "\">" << wheel
        << "</a></body></html>\n";
    port_ = free_port();
    pid_ = ::fork();
    if (pid_ == 0) {
      const std::string port = std::to_string(port_);
      const std::string d = dir_.path().string();
      ::execl("/usr/bin/python3", "python3", "-m", "http.server", port.c_str(), "--bind", "127.0.0.1",
              "--directory", d.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (int i = 0; i < 100 && !port_open(port_); ++i) std::this_thread::sleep_for(50ms);
    ok_ = ok_ && port_open(port_);
  }
  ~LocalIndex() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  bool ok() const { return ok_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/simple"; }

 private:
  TempDir dir_;
  int port_ = 0;
  pid_t pid_ = -1;
  bool ok_ = false;
};

struct LogCollector {
  std::mutex mu;
  std::vector<std::string> lines;
  void add(std::string_view l) {
    std::lock_guard lock(mu);
    lines.emplace_back(l);
  }
  bool contains(std::string_view needle) {
    std::lock_guard lock(mu);
    return std::any_of(lines.begin(), lines.end(),
                       [&](const std::string& l) { return l.find(needle) != std::string::npos; });
  }
  std::string all() {
    std::lock_guard lock(mu);
    std::string s;
    for (auto& l : lines) s += l + "\n";
    return s;
  }
};

DockerConfig python_config(std::uint64_t memory_mb = 256, double cpus = 1.0) {
  DockerConfig c;
  c.python_version = "3.11";
  c.resource_limits = {memory_mb, cpus};
  c.shm_size_mb = 64;
  return c;
}

}  // namespace

class DockerEngine : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = DockerClient::connect_from_env();
    if (!c) {
      if (require_docker()) FAIL() << "RM_REQUIRE_DOCKER=1 but: " << c.error().message;
      GTEST_SKIP() << c.error().message;
    }
    client_.emplace(std::move(*c));
    auto base = client_->image_inspect("python:3.11-slim");
    ASSERT_TRUE(base && *base) << "python:3.11-slim missing: run scripts/base-images.sh";
  }
  void TearDown() override {
    if (!client_) return;
    for (const auto& tag : images_to_remove_) (void)client_->image_remove(tag, true);
  }

  // A container from python:3.11-slim running `python3 -c code`, logs collected.
  std::unique_ptr<NodeContainer> run_python(const std::string& node, const std::string& code,
                                            DockerConfig config, LogCollector& logs,
                                            std::function<void(const rm::docker::ExitReport&)> on_exit = {},
                                            std::vector<rm::docker::BindMount> mounts = {}) {
    NodeContainerSpec spec;
    spec.session_id = unique("sess");
    spec.node_id = node;
    spec.image = "python:3.11-slim";
    spec.config = std::move(config);
    spec.command = {"python3", "-c", code};
    spec.extra_mounts = std::move(mounts);
    spec.stop_grace = 2s;
    NodeContainer::Callbacks cb;
    cb.on_log = [&logs](rm::docker::LogStream, std::string_view l) { logs.add(l); };
    cb.on_exit = std::move(on_exit);
    auto c = NodeContainer::start(*client_, std::move(spec), std::move(cb));
    EXPECT_TRUE(c) << (c ? "" : c.error().message);
    return c ? std::move(*c) : nullptr;
  }

  std::optional<DockerClient> client_;
  std::vector<std::string> images_to_remove_;
};

TEST_F(DockerEngine, ping_and_version_report_a_negotiated_api_version) {
  ASSERT_TRUE(client_->ping());
  auto v = client_->version();
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_FALSE(v->version.empty());
  EXPECT_FALSE(client_->api_version().empty());
  EXPECT_GE(client_->api_version(), std::string("1.40"));
}

TEST_F(DockerEngine,
       image_with_apt_dependency_and_local_index_wheel_builds_then_is_reused_and_rebuilt_on_change) {
  const std::string marker = unique("wheel-value");
  LocalIndex index("rmtestpkg", "1.0", marker);
  ASSERT_TRUE(index.ok());
  rm::docker::BuildSettings settings;
  settings.pip_index_url = index.url();
  ImageBuilder builder(*client_, settings);

  DockerConfig cfg = python_config();
  cfg.system_dependencies = {"jq"};
  cfg.python_packages = {"rmtestpkg==1.0"};
  cfg.env = {{"RM_TEST_RUN", unique("run")}};  // a fresh image for every run of this test
  std::vector<std::string> progress;
  auto first = builder.ensure_image(cfg, "builder", [&](std::string_view l) { progress.emplace_back(l); });
  ASSERT_TRUE(first) << first.error().message;
  images_to_remove_.push_back(first->tag);
  EXPECT_TRUE(first->built);
  EXPECT_EQ(first->tag, rm::docker::image_tag(cfg));
  EXPECT_TRUE(std::any_of(progress.begin(), progress.end(),
                          [](const std::string& l) { return l.starts_with("Step "); }));

  auto second = builder.ensure_image(cfg, "builder");
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_FALSE(second->built);
  EXPECT_EQ(second->image_id, first->image_id);

  // The image really has jq from Debian and the wheel from the local index.
  LogCollector logs;
  NodeContainerSpec spec;
  spec.session_id = unique("sess");
  spec.node_id = "builder";
  spec.image = first->tag;
  spec.config = cfg;
  spec.command = {"sh", "-c",
                  "jq --version && python3 -c 'import rmtestpkg; print(\"value\", rmtestpkg.VALUE)' && echo "
                  "$RM_TEST_RUN"};
  NodeContainer::Callbacks cb;
  cb.on_log = [&](rm::docker::LogStream, std::string_view l) { logs.add(l); };
  auto c = NodeContainer::start(*client_, spec, cb);
  ASSERT_TRUE(c) << c.error().message;
  auto report = (*c)->wait_exit(60s);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->exit_code, 0) << logs.all();
  EXPECT_TRUE(logs.contains("jq-")) << logs.all();
  EXPECT_TRUE(logs.contains("value " + marker)) << logs.all();
  EXPECT_TRUE(logs.contains(cfg.env["RM_TEST_RUN"])) << logs.all();
  ASSERT_TRUE((*c)->stop());

  // Listed as a node image, and a config change builds another one.
  auto listed = rm::docker::list_node_images(*client_);
  ASSERT_TRUE(listed);
  EXPECT_TRUE(std::any_of(listed->begin(), listed->end(), [&](const rm::docker::ImageInfo& i) {
    return std::find(i.tags.begin(), i.tags.end(), first->tag) != i.tags.end();
  }));
  DockerConfig changed = cfg;
  changed.system_dependencies.clear();
  changed.env["EXTRA"] = "1";
  auto third = builder.ensure_image(changed, "builder");
  ASSERT_TRUE(third) << third.error().message;
  images_to_remove_.push_back(third->tag);
  EXPECT_TRUE(third->built);
  EXPECT_NE(third->tag, first->tag);
}

TEST_F(DockerEngine, failing_builds_name_the_failing_step_and_show_the_last_lines) {
  LocalIndex index("rmtestpkg", "1.0", "x");
  ASSERT_TRUE(index.ok());
  rm::docker::BuildSettings settings;
  settings.pip_index_url = index.url();
  ImageBuilder builder(*client_, settings);

  DockerConfig bad_pin = python_config();
  bad_pin.python_packages = {"rmtestpkg==9.9"};
  bad_pin.env = {{"RM_TEST_RUN", unique("run")}};
  auto pin = builder.ensure_image(bad_pin, "pinned");
  ASSERT_FALSE(pin);
  EXPECT_EQ(pin.error().code, DockerErrorCode::build_failed);
  EXPECT_NE(pin.error().message.find("node pinned: building image remotemedia/node:"), std::string::npos)
      << pin.error().message;
  EXPECT_NE(pin.error().message.find("pip install"), std::string::npos) << pin.error().message;
  EXPECT_NE(pin.error().message.find("rmtestpkg==9.9"), std::string::npos) << pin.error().message;
  EXPECT_NE(pin.error().message.find("last build log lines"), std::string::npos) << pin.error().message;

  DockerConfig bad_apt = python_config();
  bad_apt.system_dependencies = {"rm-no-such-package-xyz"};
  bad_apt.env = {{"RM_TEST_RUN", unique("run")}};
  auto apt = builder.ensure_image(bad_apt, "apt");
  ASSERT_FALSE(apt);
  EXPECT_EQ(apt.error().code, DockerErrorCode::build_failed);
  EXPECT_NE(apt.error().message.find("apt-get install"), std::string::npos) << apt.error().message;
  EXPECT_NE(apt.error().message.find("Unable to locate package rm-no-such-package-xyz"), std::string::npos)
      << apt.error().message;

  DockerConfig no_base = python_config();
  no_base.python_version = "3.7";
  auto base = builder.ensure_image(no_base, "old");
  ASSERT_FALSE(base);
  EXPECT_EQ(base.error().code, DockerErrorCode::not_found);
  EXPECT_NE(base.error().message.find("node old: base image python:3.7-slim is not present"),
            std::string::npos)
      << base.error().message;
  EXPECT_NE(base.error().message.find("scripts/base-images.sh"), std::string::npos);
}

TEST_F(DockerEngine, limits_mounts_and_env_are_visible_inside_the_container) {
  TempDir ipc("ipc"), ro("ro");
  std::ofstream(ro.path() / "model.txt") << "weights";
  DockerConfig cfg = python_config(200, 0.5);
  cfg.env = {{"NODE_GREETING", "hello from env"}};
  cfg.volumes = {{ro.path().string(), "/models", true}};
  const std::string code = R"PY(
import os
def read(*paths):
    for p in paths:
        try:
            return open(p).read().strip()
        except OSError:
            pass
    return "?"
mem = read("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")
v2 = read("/sys/fs/cgroup/cpu.max")
if v2 != "?":
    q, p = v2.split()
else:
    q, p = read("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us"), read("/sys/fs/cgroup/cpu/cpu.cfs_period_us", "/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us")
print(f"memory={mem}")
print(f"cpu={q}/{p}")
print("env=" + os.environ.get("NODE_GREETING", "missing"))
print("model=" + open("/models/model.txt").read())
try:
    open("/models/new", "w")
    print("ro=writable")
except OSError as e:
    print(f"ro=refused errno {e.errno}")
open(os.environ["IPC_DIR"] + "/from-container", "w").write("hi host")
print("shm=" + str(os.statvfs("/dev/shm").f_blocks * os.statvfs("/dev/shm").f_frsize))
)PY";
  LogCollector logs;
  NodeContainerSpec spec;
  spec.session_id = unique("sess");
  spec.node_id = "limits";
  spec.image = "python:3.11-slim";
  spec.config = cfg;
  spec.ipc_host_dir = ipc.path().string();
  spec.extra_env = {{"IPC_DIR", ipc.path().string()}};
  spec.command = {"python3", "-c", code};
  NodeContainer::Callbacks cb;
  cb.on_log = [&](rm::docker::LogStream, std::string_view l) { logs.add(l); };
  auto c = NodeContainer::start(*client_, spec, cb);
  ASSERT_TRUE(c) << c.error().message;
  auto info = client_->container_inspect((*c)->id());
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->memory_bytes, 200LL << 20);
  EXPECT_EQ(info->memory_swap_bytes, 200LL << 20);
  EXPECT_EQ(info->nano_cpus, 500'000'000);
  EXPECT_EQ(info->shm_bytes, 64LL << 20);
  EXPECT_EQ(info->network_mode, "none");
  EXPECT_EQ(info->labels.at("remotemedia.node"), "limits");
  EXPECT_EQ(info->labels.at("remotemedia.session"), spec.session_id);
  auto report = (*c)->wait_exit(60s);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->exit_code, 0) << logs.all();
  EXPECT_TRUE(logs.contains("memory=" + std::to_string(200LL << 20))) << logs.all();
  EXPECT_TRUE(logs.contains("cpu=50000/100000")) << logs.all();
  EXPECT_TRUE(logs.contains("env=hello from env")) << logs.all();
  EXPECT_TRUE(logs.contains("model=weights")) << logs.all();
  EXPECT_TRUE(logs.contains("ro=refused errno 30")) << logs.all();  // EROFS
  EXPECT_TRUE(logs.contains("shm=" + std::to_string(64LL << 20))) << logs.all();
  std::ifstream f(ipc.path() / "from-container");
  std::string got;
  std::getline(f, got);
  EXPECT_EQ(got, "hi host");
  ASSERT_TRUE((*c)->stop());
}

TEST_F(DockerEngine, allocation_past_memory_mb_reports_the_oom_message) {
  LogCollector logs;
  std::promise<rm::docker::ExitReport> exited;
  auto c = run_python("hog",
                      "import sys\nprint('allocating', flush=True)\nblocks = []\n"
                      "while True:\n    blocks.append(bytearray(16 << 20))\n",
                      python_config(128, 1.0), logs,
                      [&](const rm::docker::ExitReport& r) { exited.set_value(r); });
  ASSERT_TRUE(c);
  auto fut = exited.get_future();
  ASSERT_EQ(fut.wait_for(60s), std::future_status::ready) << logs.all();
  const auto r = fut.get();
  EXPECT_TRUE(r.oom_killed || r.exit_code == 137) << r.exit_code;
  EXPECT_FALSE(r.requested);
  EXPECT_EQ(r.message.rfind("node hog: container killed, memory limit 128 MB exceeded", 0), 0u) << r.message;
  ASSERT_TRUE(c->stop());
}

TEST_F(DockerEngine, nonzero_exit_is_reported_with_the_code_and_the_last_log_lines) {
  LogCollector logs;
  std::promise<rm::docker::ExitReport> exited;
  auto c = run_python("crasher",
                      "import sys\nprint('loading model', flush=True)\n"
                      "print('ValueError: bad weights', file=sys.stderr, flush=True)\nsys.exit(3)\n",
                      python_config(), logs, [&](const rm::docker::ExitReport& r) { exited.set_value(r); });
  ASSERT_TRUE(c);
  auto fut = exited.get_future();
  ASSERT_EQ(fut.wait_for(60s), std::future_status::ready);
  const auto r = fut.get();
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.message.find("node crasher: container exited with code 3"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("ValueError: bad weights"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("loading model"), std::string::npos) << r.message;
  EXPECT_TRUE(logs.contains("ValueError: bad weights"));
  ASSERT_TRUE(c->stop());
}

TEST_F(DockerEngine, kill_from_outside_is_an_unrequested_exit_with_code_137_and_no_oom_flag) {
  LogCollector logs;
  std::promise<rm::docker::ExitReport> exited;
  auto c = run_python("victim", "import time\nprint('ready', flush=True)\ntime.sleep(600)\n", python_config(),
                      logs, [&](const rm::docker::ExitReport& r) { exited.set_value(r); });
  ASSERT_TRUE(c);
  for (int i = 0; i < 200 && !logs.contains("ready"); ++i) std::this_thread::sleep_for(25ms);
  ASSERT_TRUE(client_->container_kill(c->id(), "SIGKILL"));
  auto fut = exited.get_future();
  ASSERT_EQ(fut.wait_for(30s), std::future_status::ready);
  const auto r = fut.get();
  EXPECT_EQ(r.exit_code, 137);
  EXPECT_FALSE(r.oom_killed);
  EXPECT_FALSE(r.requested);
  EXPECT_NE(r.message.find("node victim: container killed"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("ready"), std::string::npos) << r.message;
  ASSERT_TRUE(c->stop());
}

TEST_F(DockerEngine, stop_terminates_gracefully_and_removes_the_container) {
  LogCollector logs;
  bool unexpected_exit = false;
  auto c =
      run_python("sleeper",
                 "import signal, sys, time\n"
                 "signal.signal(signal.SIGTERM, lambda *a: (print('got SIGTERM', flush=True), sys.exit(0)))\n"
                 "print('ready', flush=True)\ntime.sleep(600)\n",
                 python_config(), logs, [&](const rm::docker::ExitReport&) { unexpected_exit = true; });
  ASSERT_TRUE(c);
  for (int i = 0; i < 200 && !logs.contains("ready"); ++i) std::this_thread::sleep_for(25ms);
  ASSERT_TRUE(logs.contains("ready")) << logs.all();
  const std::string id = c->id();
  ASSERT_TRUE(c->stop());
  auto report = c->exit_report();
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->requested);
  EXPECT_EQ(report->exit_code, 0);
  EXPECT_TRUE(logs.contains("got SIGTERM")) << logs.all();
  EXPECT_FALSE(unexpected_exit);
  auto gone = client_->container_inspect(id);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, DockerErrorCode::not_found);
  EXPECT_TRUE(c->stop());  // idempotent
}

TEST_F(DockerEngine, sweep_removes_containers_of_a_dead_owner_and_keeps_live_ones) {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);
  const auto me = rm::docker::OwnerId::self();
  const std::string session = unique("sweep");

  auto make = [&](long pid, std::uint64_t start) {
    rm::docker::ContainerSpec s;
    s.image = "python:3.11-slim";
    s.cmd = {"sleep", "600"};
    s.labels = {{"remotemedia.managed", "1"},
                {"remotemedia.session", session},
                {"remotemedia.node", "n"},
                {"remotemedia.owner", std::to_string(pid)},
                {"remotemedia.owner_start", std::to_string(start)},
                {"remotemedia.boot", me.boot_id}};
    auto id = client_->container_create(s);
    EXPECT_TRUE(id) << (id ? "" : id.error().message);
    if (id) {
      EXPECT_TRUE(client_->container_start(*id));
    }
    return id ? *id : std::string();
  };
  const std::string dead = make(child, 12345);
  const std::string live = make(me.pid, me.start_ticks);
  ASSERT_FALSE(dead.empty());
  ASSERT_FALSE(live.empty());

  auto report = rm::docker::sweep_orphans(*client_);
  ASSERT_TRUE(report) << report.error().message;
  auto left = client_->container_list({{"remotemedia.session", session}});
  ASSERT_TRUE(left);
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ(left->front().id, live);
  EXPECT_FALSE(client_->container_inspect(dead));
  EXPECT_TRUE(client_->container_remove(live, true, true));
}

TEST_F(DockerEngine, prune_removes_unused_node_images_and_keeps_those_a_container_uses) {
  ImageBuilder builder(*client_, {});
  DockerConfig used_cfg = python_config();
  used_cfg.env = {{"RM_TEST_RUN", unique("used")}};
  DockerConfig unused_cfg = python_config();
  unused_cfg.env = {{"RM_TEST_RUN", unique("unused")}};
  auto used = builder.ensure_image(used_cfg, "prune");
  auto unused = builder.ensure_image(unused_cfg, "prune");
  ASSERT_TRUE(used && unused);
  images_to_remove_ = {used->tag, unused->tag};
  rm::docker::ContainerSpec s;
  s.image = used->tag;
  s.cmd = {"true"};
  auto holder = client_->container_create(s);
  ASSERT_TRUE(holder) << holder.error().message;

  auto report = rm::docker::prune_node_images(*client_);
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_NE(std::find(report->removed.begin(), report->removed.end(), unused->tag), report->removed.end());
  EXPECT_NE(std::find(report->in_use.begin(), report->in_use.end(), used->tag), report->in_use.end());
  auto still = client_->image_inspect(used->tag);
  EXPECT_TRUE(still && *still);
  auto gone = client_->image_inspect(unused->tag);
  EXPECT_TRUE(gone && !*gone);
  EXPECT_TRUE(client_->container_remove(*holder, true, true));
}

TEST_F(DockerEngine, doctor_passes_with_the_daemon_base_image_shm_and_ipc_dir) {
  TempDir ipc("doctor");
  rm::docker::DoctorOptions o;
  o.ipc_root = ipc.path().string();
  o.min_shm_mb = 64;
  const auto r = rm::docker::run_doctor(o);
  EXPECT_TRUE(r.ok()) << r.text();
  EXPECT_NE(r.text().find("[ok] base image python:3.11-slim"), std::string::npos) << r.text();
  EXPECT_NE(r.text().find("[ok] api version"), std::string::npos) << r.text();
}

TEST_F(DockerEngine, pool_shares_a_container_per_key_keeps_it_warm_then_removes_it_when_idle) {
  rm::docker::ContainerPool pool(std::chrono::milliseconds(400));
  int created = 0;
  LogCollector logs;
  auto factory = [&](const std::string& node) {
    return [&, node]() -> rm::docker::Result<std::unique_ptr<NodeContainer>> {
      ++created;
      NodeContainerSpec spec;
      spec.session_id = unique("pool");
      spec.node_id = node;
      spec.image = "python:3.11-slim";
      spec.config = python_config();
      spec.command = {"python3", "-c", "import time\nprint('up', flush=True)\ntime.sleep(600)"};
      spec.stop_grace = 2s;
      NodeContainer::Callbacks cb;
      cb.on_log = [&logs](rm::docker::LogStream, std::string_view l) { logs.add(l); };
      return NodeContainer::start(*client_, std::move(spec), std::move(cb));
    };
  };
  auto a1 = pool.acquire("cfg-a", factory("a"));
  ASSERT_TRUE(a1) << a1.error().message;
  auto a2 = pool.acquire("cfg-a", factory("a"));
  ASSERT_TRUE(a2) << a2.error().message;
  auto b = pool.acquire("cfg-b", factory("b"));
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_EQ(created, 2);
  EXPECT_FALSE(a1->reused());
  EXPECT_TRUE(a2->reused());
  const std::string shared_id = (*a1)->id();
  EXPECT_EQ((*a2)->id(), shared_id);
  EXPECT_NE((*b)->id(), shared_id);
  EXPECT_EQ(pool.leases("cfg-a"), 2u);

  a1->release();
  a2->release();
  // Warm: the next session right away gets the same running container.
  auto a3 = pool.acquire("cfg-a", factory("a"));
  ASSERT_TRUE(a3);
  EXPECT_EQ((*a3)->id(), shared_id);
  EXPECT_TRUE(a3->reused());
  EXPECT_EQ(created, 2);
  a3->release();

  // After the idle time the reaper stops and removes it; the leased one stays.
  bool removed = false;
  for (int i = 0; i < 400 && !removed; ++i) {
    std::this_thread::sleep_for(25ms);
    auto info = client_->container_inspect(shared_id);
    removed = !info && info.error().code == DockerErrorCode::not_found;
  }
  EXPECT_TRUE(removed);
  EXPECT_EQ(pool.containers(), 1u);
  auto binfo = client_->container_inspect((*b)->id());
  ASSERT_TRUE(binfo);
  EXPECT_TRUE(binfo->running);
  const std::string b_id = (*b)->id();
  b->release();
  b = {};
  // Destroying the pool removes what it still holds.
  a1 = {};
  a2 = {};
  a3 = {};
}
