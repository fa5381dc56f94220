// Time from NodeContainer::start() (create + start through the Engine API) to the first log
// line of a Python process in the container, with a cached image. Needs a running dockerd and
// python:3.11-slim (scripts/docker-up.sh).
//
//   build/bench/docker/docker_container_start_bench [iterations=20] [image=python:3.11-slim]
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

#include "docker/container_manager.hpp"

using namespace std::chrono;

int main(int argc, char** argv) {
  const int iterations = argc > 1 ? std::max(1, std::atoi(argv[1])) : 20;
  const std::string image = argc > 2 ? argv[2] : "python:3.11-slim";
  auto client = rm::docker::DockerClient::connect_from_env();
  if (!client) {
    std::fprintf(stderr, "%s\n", client.error().message.c_str());
    return 1;
  }
  std::vector<double> api_ms, first_line_ms, stop_ms;
  for (int i = -1; i < iterations; ++i) {  // i == -1: warm-up, not recorded
    rm::docker::NodeContainerSpec spec;
    spec.session_id = "bench-" + std::to_string(i + 1);
    spec.node_id = "start";
    spec.image = image;
    spec.config.python_version = "3.11";
    spec.config.resource_limits = {256, 1.0};
    spec.config.shm_size_mb = 64;
    spec.command = {"python3", "-c", "print('ready', flush=True)\nimport time\ntime.sleep(60)"};
    spec.stop_grace = seconds(2);
    std::mutex mu;
    std::condition_variable cv;
    bool got = false;
    steady_clock::time_point seen;
    rm::docker::NodeContainer::Callbacks cb;
    cb.on_log = [&](rm::docker::LogStream, std::string_view) {
      std::lock_guard lock(mu);
      if (!got) {
        got = true;
        seen = steady_clock::now();
        cv.notify_all();
      }
    };
    const auto t0 = steady_clock::now();
    auto c = rm::docker::NodeContainer::start(*client, spec, cb);
    const auto t1 = steady_clock::now();
    if (!c) {
      std::fprintf(stderr, "%s\n", c.error().message.c_str());
      return 1;
    }
    {
      std::unique_lock lock(mu);
      if (!cv.wait_for(lock, seconds(30), [&] { return got; })) {
        std::fprintf(stderr, "no log line within 30 s\n");
        return 1;
      }
    }
    const auto t2 = steady_clock::now();
    (void)(*c)->stop();
    const auto t3 = steady_clock::now();
    if (i >= 0) {
      api_ms.push_back(duration<double, std::milli>(t1 - t0).count());
      first_line_ms.push_back(duration<double, std::milli>(seen - t0).count());
      stop_ms.push_back(duration<double, std::milli>(t3 - t2).count());
    }
  }
  auto report = [](const char* what, std::vector<double> v) {
    std::sort(v.begin(), v.end());
    std::printf("%-34s p50 %7.1f ms   p90 %7.1f ms   min %7.1f ms   max %7.1f ms\n", what, v[v.size() / 2],
                v[std::min(v.size() - 1, v.size() * 9 / 10)], v.front(), v.back());
  };
  std::printf("%d iterations, image %s, API %s\n", iterations, image.c_str(), client->api_version().c_str());
  report("create+start (API calls)", api_ms);
  report("start() to first log line", first_line_ms);
  report("stop (SIGTERM) + remove", stop_ms);
  return 0;
}
