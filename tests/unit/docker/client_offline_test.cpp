// Client behaviour that needs no daemon: endpoint parsing, the unreachable-daemon error, and the
// transport against a scripted daemon on a real unix socket (timeout, cancel, streamed logs,
// protocol errors).
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "docker/client.hpp"
#include "docker/doctor.hpp"
#include "support/scripted_server.hpp"

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

namespace {

using rm::test::ScriptedServer;
using rm::test::Transport;

std::string socket_of(const ScriptedServer& s) {
  return std::get<rm::core::http::UnixEndpoint>(s.endpoint()).path;
}

// The first connection of every client: connect() asks for the version.
ScriptedServer::Connection version_answer() {
  const std::string body = R"({"Version":"24.0.0","ApiVersion":"1.43","Os":"linux"})";
  return {{{"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
            std::to_string(body.size()) + "\r\n\r\n" + body}}};
}

}  // namespace

TEST(DockerClient, a_peer_that_never_answers_times_out_with_a_clear_error) {
  // A real unix socket that accepts and then stays silent (a hung daemon).
  ScriptedServer silent(Transport::unix_socket, {}, ScriptedServer::Then::stay_silent);
  auto c = DockerClient::connect(
      {socket_of(silent)},
      rm::docker::ClientOptions{std::chrono::milliseconds(300), std::chrono::milliseconds(300)});
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, DockerErrorCode::timeout);
  EXPECT_EQ(c.error().message, "GET /version got no complete answer within 300 ms");
}

TEST(DockerClient, a_cancel_from_another_thread_ends_a_long_poll_with_cancelled) {
  ScriptedServer daemon(Transport::unix_socket, {version_answer(), {{}, ScriptedServer::Then::stay_silent}});
  auto client = DockerClient::connect({socket_of(daemon)});
  ASSERT_TRUE(client) << client.error().message;
  EXPECT_EQ(client->api_version(), "1.43");
  rm::docker::CancelToken cancel;
  std::thread canceller([&] {
    daemon.wait_for_request(1);
    cancel.cancel();
  });
  auto code = client->container_wait("abc", std::chrono::hours(1), &cancel);
  canceller.join();
  ASSERT_FALSE(code);
  EXPECT_EQ(code.error().code, DockerErrorCode::cancelled);
  EXPECT_EQ(code.error().message, "POST /containers/abc/wait?condition=not-running cancelled");
  EXPECT_TRUE(daemon.wait_for_request(1).starts_with(
      "POST /v1.43/containers/abc/wait?condition=not-running HTTP/1.1\r\n"));
}

TEST(DockerClient, followed_logs_arrive_line_by_line_while_the_stream_is_open) {
  // Multiplexed frames in a chunked body; each next frame is sent only after the client has
  // handed out the previous line, so the lines cannot have been held back to the end.
  auto chunk = [](const std::string& frame_stream, const std::string& text) {
    std::string frame(8, '\0');
    frame[0] = frame_stream[0];
    frame[7] = static_cast<char>(text.size());
    frame += text;
    return fmt::format("{:x}\r\n{}\r\n", frame.size(), frame);
  };
  const std::string head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  ScriptedServer daemon(Transport::unix_socket, {version_answer(),
                                                 {{{head + chunk("\1", "one\n")},
                                                   {chunk("\2", "two\n"), true},
                                                   {chunk("\1", "three\n") + "0\r\n\r\n", true}}}});
  auto client = DockerClient::connect({socket_of(daemon)});
  ASSERT_TRUE(client) << client.error().message;
  std::vector<std::pair<rm::docker::LogStream, std::string>> lines;
  auto st = client->container_logs("abc", true, [&](rm::docker::LogStream s, std::string_view line) {
    lines.emplace_back(s, std::string(line));
    daemon.release();
  });
  ASSERT_TRUE(st) << st.error().message;
  using rm::docker::LogStream;
  const std::vector<std::pair<LogStream, std::string>> want{{LogStream::stdout_stream, "one"},
                                                            {LogStream::stderr_stream, "two"},
                                                            {LogStream::stdout_stream, "three"}};
  EXPECT_EQ(lines, want);
}

TEST(DockerClient, an_answer_that_is_not_http_is_a_protocol_error_naming_the_daemon) {
  ScriptedServer daemon(Transport::unix_socket, {version_answer(), {{{"SSH-2.0-OpenSSH_9.2\r\n\r\n"}}}});
  auto client = DockerClient::connect({socket_of(daemon)});
  ASSERT_TRUE(client) << client.error().message;
  auto info = client->container_inspect("abc");
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code, DockerErrorCode::protocol);
  EXPECT_TRUE(info.error().message.starts_with(
      "GET /containers/abc/json: malformed HTTP response from the Docker daemon"))
      << info.error().message;
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
