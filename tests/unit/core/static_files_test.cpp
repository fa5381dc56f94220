// Static files and executable-relative data lookup: real files in a temporary directory.
#include <gtest/gtest.h>

#include <unistd.h>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/http.hpp"
#include "core/paths.hpp"
#include "core/static_files.hpp"

using namespace rm::core::http;
namespace fs = std::filesystem;

namespace {

class StaticFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("rm-static-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "site" / "sub");
    write(dir_ / "site" / "index.html", "<h1>home</h1>");
    write(dir_ / "site" / "app.js", "export const x = 1;");
    write(dir_ / "site" / "sub" / "index.html", "<p>sub</p>");
    write(dir_ / "site" / ".secret", "no");
    write(dir_ / "outside.txt", "outside");
    fs::create_symlink(dir_ / "outside.txt", dir_ / "site" / "escape.txt");
    router_.get("/api/thing", [](const Request&) { return text_response(200, "api"); });
    add_static(router_, "/", dir_ / "site");
  }
  void TearDown() override { fs::remove_all(dir_); }
  static void write(const fs::path& p, const std::string& text) { std::ofstream(p) << text; }
  Response get(std::string target) { return router_.handle(make_request("GET", target)); }

  fs::path dir_;
  Router router_;
};

}  // namespace

TEST_F(StaticFiles, the_root_serves_index_html_as_html_that_is_always_revalidated) {
  Response r = get("/");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "<h1>home</h1>");
  EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
  bool no_cache = false;
  for (auto& [k, v] : r.headers) no_cache |= (k == "Cache-Control" && v == "no-cache");
  EXPECT_TRUE(no_cache);
}

TEST_F(StaticFiles, assets_get_their_content_type_and_a_directory_its_index) {
  EXPECT_EQ(get("/app.js").content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(get("/app.js").body, "export const x = 1;");
  EXPECT_EQ(get("/sub").body, "<p>sub</p>");
  EXPECT_EQ(get("/sub/").body, "<p>sub</p>");
}

TEST_F(StaticFiles, api_routes_registered_first_still_win_over_the_static_prefix) {
  EXPECT_EQ(get("/api/thing").body, "api");
  EXPECT_EQ(get("/api/other").status, 404);
}

TEST_F(StaticFiles, traversal_hidden_files_and_symlinks_out_of_the_root_are_not_found) {
  EXPECT_EQ(get("/../outside.txt").status, 404);
  EXPECT_EQ(get("/%2e%2e/outside.txt").status, 404);
  EXPECT_EQ(get("/sub/%2F..%2F..%2Foutside.txt").status, 404);
  EXPECT_EQ(get("/.secret").status, 404);
  EXPECT_EQ(get("/escape.txt").status, 404);
  EXPECT_EQ(get("/missing.js").status, 404);
}

TEST_F(StaticFiles, a_matching_if_none_match_answers_304_without_a_body) {
  Response first = get("/app.js");
  std::string etag;
  for (auto& [k, v] : first.headers) {
    if (k == "ETag") etag = v;
  }
  ASSERT_FALSE(etag.empty());
  Request req = make_request("GET", "/app.js");
  req.headers.emplace_back("if-none-match", etag);
  Response again = router_.handle(req);
  EXPECT_EQ(again.status, 304);
  EXPECT_TRUE(again.body.empty());
}

TEST(HttpRouterRest, a_rest_parameter_takes_every_remaining_segment) {
  Router r;
  r.get("/files/{path...}",
        [](const Request& req) { return text_response(200, std::string(req.param("path"))); });
  EXPECT_EQ(r.handle(make_request("GET", "/files/a/b/c.js")).body, "a/b/c.js");
  EXPECT_EQ(r.handle(make_request("GET", "/files/x")).body, "x");
  EXPECT_EQ(r.handle(make_request("GET", "/files")).status, 404);
}

TEST(Paths, the_executable_is_found_and_share_is_searched_upward_from_it) {
  const fs::path exe = rm::core::paths::self_exe();
  ASSERT_FALSE(exe.empty());
  EXPECT_TRUE(fs::exists(exe));
  // This test binary lives in <build>/tests/unit/core/; the build tree has share/remotemedia.
  const fs::path marker = exe.parent_path().parent_path() / "share" / "remotemedia" / "rm-paths-test";
  fs::create_directories(marker);
  auto found = rm::core::paths::find_share("rm-paths-test");
  fs::remove_all(marker);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(fs::weakly_canonical(*found), fs::weakly_canonical(marker));
  EXPECT_FALSE(rm::core::paths::find_share("no-such-thing-here").has_value());
}

TEST(Paths, an_environment_variable_overrides_the_search) {
  ::setenv("RM_PATHS_TEST_DIR", "/some/where", 1);
  auto found = rm::core::paths::find_share("web", "RM_PATHS_TEST_DIR");
  ::unsetenv("RM_PATHS_TEST_DIR");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(*found, fs::path("/some/where"));
}
