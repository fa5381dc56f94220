// Client behaviour that needs no daemon: endpoint parsing and the unreachable-daemon error.
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <thread>

#include "docker/client.hpp"
#include "docker/doctor.hpp"

using rm::docker::DockerClient;
using rm::docker::DockerErrorCode;

TEST(DockerEndpoint, docker_host_unix_url_selects_the_socket_and_tcp_is_refused_clearly) {
  ::setenv("DOCKER_HOST", "unix:///run/user/1000/docker.sock", 1);
  auto ep = rm::docker::endpoint_from_env();
  ASSERT_TRUE(ep);
  EXPECT_EQ(ep->socket_path, "/run/user/1000/docker.sock");
  ::setenv("DOCKER_HOST", "tcp://10.0.0.1:2375", 1);
  auto tcp = rm::docker::endpoint_from_env();
  ASSERT_FALSE(tcp);
  EXPECT_NE(tcp.error().message.find("tcp://10.0.0.1:2375"), std::string::npos);
  ::unsetenv("DOCKER_HOST");
  EXPECT_EQ(rm::docker::endpoint_from_env()->socket_path, "/var/run/docker.sock");
}

TEST(DockerClient, missing_socket_reports_daemon_not_accessible_with_the_path_and_the_fix) {
  const std::string path = "/tmp/rm-no-daemon-" + std::to_string(::getpid()) + ".sock";
  auto c = DockerClient::connect({path});
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, DockerErrorCode::daemon_unreachable);
  EXPECT_NE(c.error().message.find("Docker daemon not accessible at " + path + ": "), std::string::npos)
      << c.error().message;
  EXPECT_NE(c.error().message.find("docker-up.sh"), std::string::npos);
  EXPECT_NE(c.error().message.find("permissions"), std::string::npos);
}

TEST(DockerClient, a_peer_that_never_answers_times_out_with_a_clear_error) {
  // A real unix socket that accepts and then stays silent (a hung daemon).
  const std::string path = "/tmp/rm-silent-" + std::to_string(::getpid()) + ".sock";
  ::unlink(path.c_str());
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  auto c = DockerClient::connect(
      {path}, rm::docker::ClientOptions{std::chrono::milliseconds(300), std::chrono::milliseconds(300)});
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, DockerErrorCode::timeout);
  EXPECT_NE(c.error().message.find("/version"), std::string::npos) << c.error().message;
  ::close(fd);
  ::unlink(path.c_str());
}

TEST(Doctor, unreachable_daemon_fails_the_daemon_check_with_a_fix_and_still_checks_shm) {
  rm::docker::DoctorOptions o;
  o.endpoint = rm::docker::Endpoint{"/tmp/rm-doctor-none-" + std::to_string(::getpid()) + ".sock"};
  o.ipc_root =
      (std::filesystem::temp_directory_path() / ("rm-doctor-" + std::to_string(::getpid()))).string();
  o.min_shm_mb = 1;
  const auto r = rm::docker::run_doctor(o);
  EXPECT_FALSE(r.ok());
  ASSERT_GE(r.checks.size(), 3u);
  EXPECT_EQ(r.checks[0].name, "daemon");
  EXPECT_FALSE(r.checks[0].ok);
  EXPECT_NE(r.text().find("[FAIL] daemon: Docker daemon not accessible"), std::string::npos) << r.text();
  EXPECT_NE(r.text().find("[ok] ipc dir"), std::string::npos) << r.text();
  std::filesystem::remove_all(o.ipc_root);
}
