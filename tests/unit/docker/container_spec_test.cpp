#include <gtest/gtest.h>

#include <unistd.h>

#include <sys/wait.h>

#include <boost/json.hpp>

#include "docker/container_manager.hpp"
#include "docker/container_spec.hpp"
#include "docker/image_builder.hpp"

namespace json = boost::json;
using rm::docker::ContainerSpec;
using rm::runtime::GpuRequest;

namespace {
json::object body_of(const ContainerSpec& s) {
  return json::parse(rm::docker::create_body_json(s)).as_object();
}
}  // namespace

TEST(ContainerSpec, limits_become_memory_without_swap_nanocpus_shm_init_and_no_network) {
  ContainerSpec s;
  s.image = "remotemedia/node:abc";
  s.cmd = {"python3", "-m", "remotemedia.runner"};
  s.memory_bytes = 256ULL << 20;
  s.cpu_cores = 0.5;
  s.shm_bytes = 64ULL << 20;
  s.env = {{"A", "1"}};
  s.labels = {{"remotemedia.node", "n1"}};
  s.mounts = {{"/dev/shm/remotemedia/s1", "/dev/shm/remotemedia/s1", false},
              {"/opt/sdk", "/opt/remotemedia/python", true}};
  const auto b = body_of(s);
  const auto& h = b.at("HostConfig").as_object();
  EXPECT_EQ(h.at("Memory").to_number<std::int64_t>(), 256 << 20);
  EXPECT_EQ(h.at("MemorySwap").to_number<std::int64_t>(), 256 << 20);
  EXPECT_EQ(h.at("NanoCpus").to_number<std::int64_t>(), 500'000'000);
  EXPECT_EQ(h.at("ShmSize").to_number<std::int64_t>(), 64 << 20);
  EXPECT_EQ(h.at("Init"), true);
  EXPECT_EQ(h.at("NetworkMode"), "none");
  EXPECT_EQ(h.at("DeviceRequests").as_array().size(), 0u);
  const auto& m = h.at("Mounts").as_array();
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].at("ReadOnly"), false);
  EXPECT_EQ(m[1].at("ReadOnly"), true);
  EXPECT_EQ(m[1].at("Target"), "/opt/remotemedia/python");
  EXPECT_EQ(m[1].at("Type"), "bind");
  EXPECT_EQ(b.at("Env").as_array()[0], "A=1");
  EXPECT_EQ(b.at("Labels").at("remotemedia.node"), "n1");
  EXPECT_EQ(b.at("Tty"), false);
  EXPECT_EQ(b.at("Cmd").as_array().size(), 3u);
}

TEST(ContainerSpec, gpu_all_count_and_device_ids_become_nvidia_device_requests) {
  GpuRequest all{GpuRequest::Mode::all, 0, {}};
  auto r = json::parse(rm::docker::device_requests_json(all)).as_array();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].at("Driver"), "nvidia");
  EXPECT_EQ(r[0].at("Count").to_number<int>(), -1);
  EXPECT_EQ(r[0].at("Capabilities").as_array()[0].as_array()[0], "gpu");

  GpuRequest two{GpuRequest::Mode::count, 2, {}};
  r = json::parse(rm::docker::device_requests_json(two)).as_array();
  EXPECT_EQ(r[0].at("Count").to_number<int>(), 2);
  EXPECT_EQ(r[0].as_object().if_contains("DeviceIDs"), nullptr);

  GpuRequest ids{GpuRequest::Mode::devices, 0, {"0", "GPU-abc"}};
  ContainerSpec s;
  s.image = "x";
  s.gpus = ids;
  const auto req = body_of(s).at("HostConfig").at("DeviceRequests").as_array();
  ASSERT_EQ(req.size(), 1u);
  EXPECT_EQ(req[0].at("DeviceIDs").as_array()[1], "GPU-abc");
  EXPECT_EQ(req[0].as_object().if_contains("Count"), nullptr);

  EXPECT_EQ(rm::docker::device_requests_json({}), "[]");
}

TEST(NodeContainerSpec, node_spec_maps_config_mounts_and_labels) {
  rm::docker::NodeContainerSpec n;
  n.session_id = "sess-1";
  n.node_id = "asr";
  n.image = "remotemedia/node:1";
  n.config.python_version = "3.11";
  n.config.resource_limits = {512, 1.5};
  n.config.shm_size_mb = 128;
  n.config.env = {{"K", "v"}};
  n.config.volumes = {{"/data/models", "/models", true}, {"/data/out", "/out", false}};
  n.ipc_host_dir = "/dev/shm/remotemedia/sess-1";
  n.sdk_host_dir = "/work/python";
  n.extra_env = {{"K", "override"}, {"RM_SESSION", "sess-1"}};
  const auto c = rm::docker::node_container_spec(n);
  EXPECT_EQ(c.memory_bytes, 512ULL << 20);
  EXPECT_DOUBLE_EQ(c.cpu_cores, 1.5);
  EXPECT_EQ(c.shm_bytes, 128ULL << 20);
  EXPECT_EQ(c.network_mode, "none");
  EXPECT_TRUE(c.init);
  EXPECT_EQ(c.env.at("K"), "override");
  ASSERT_EQ(c.mounts.size(), 4u);
  EXPECT_EQ(c.mounts[0].container_path, "/dev/shm/remotemedia/sess-1");
  EXPECT_FALSE(c.mounts[0].read_only);
  EXPECT_TRUE(c.mounts[1].read_only);  // SDK
  EXPECT_TRUE(c.mounts[2].read_only);
  EXPECT_FALSE(c.mounts[3].read_only);
  EXPECT_EQ(c.labels.at("remotemedia.session"), "sess-1");
  EXPECT_EQ(c.labels.at("remotemedia.node"), "asr");
  EXPECT_EQ(c.labels.at("remotemedia.owner"), std::to_string(::getpid()));
  EXPECT_EQ(c.labels.at("remotemedia.config_hash"), rm::docker::config_hash(n.config));
  EXPECT_FALSE(c.labels.at("remotemedia.boot").empty());
}

TEST(ExitClassification, oom_and_137_name_the_node_and_the_limit) {
  EXPECT_EQ(rm::docker::classify_exit("asr", 137, true, 256, {}),
            "node asr: container killed, memory limit 256 MB exceeded");
  EXPECT_NE(rm::docker::classify_exit("asr", 137, false, 128, {})
                .find("node asr: container killed, memory limit 128 MB exceeded"),
            std::string::npos);
}

TEST(ExitClassification, other_exit_codes_carry_the_code_and_last_lines) {
  const auto m = rm::docker::classify_exit("vad", 3, false, 256, {"Traceback", "ValueError: bad"});
  EXPECT_NE(m.find("node vad: container exited with code 3"), std::string::npos) << m;
  EXPECT_NE(m.find("ValueError: bad"), std::string::npos) << m;
  EXPECT_NE(rm::docker::classify_exit("vad", 139, false, 256, {}).find("signal 11"), std::string::npos);
}

TEST(OwnerId, this_process_is_alive_and_a_reaped_child_or_other_start_time_is_not) {
  const auto me = rm::docker::OwnerId::self();
  EXPECT_TRUE(me.alive());
  auto reused = me;
  reused.start_ticks += 1;  // same pid, another process (pid reuse)
  EXPECT_FALSE(reused.alive());
  auto other_boot = me;
  other_boot.boot_id = "00000000-0000-0000-0000-000000000000";
  EXPECT_FALSE(other_boot.alive());

  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  rm::docker::OwnerId dead{child, 1, me.boot_id};
  EXPECT_FALSE(dead.alive());
  EXPECT_FALSE(rm::docker::OwnerId{}.alive());

  const auto round_trip =
      rm::docker::OwnerId::from_labels({{"remotemedia.owner", std::to_string(me.pid)},
                                        {"remotemedia.owner_start", std::to_string(me.start_ticks)},
                                        {"remotemedia.boot", me.boot_id}});
  EXPECT_EQ(round_trip, me);
}
