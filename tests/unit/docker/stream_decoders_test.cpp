#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "docker/stream_decoders.hpp"

using rm::docker::LineSplitter;
using rm::docker::LogDemuxer;
using rm::docker::ResponseDecoder;

namespace {

struct Decoded {
  int status = 0;
  std::string body;
  bool ok = true;
  bool done = false;
  std::string error;
};

// Feeds `wire` in the given pieces, then EOF when `eof` is set.
Decoded decode(const std::vector<std::string_view>& pieces, bool eof = false) {
  Decoded d;
  ResponseDecoder dec({[&](int s) { d.status = s; },
                       [&](std::string_view b) {
                         d.body.append(b);
                         return true;
                       }});
  for (auto p : pieces) {
    if (!dec.feed(p)) {
      d.ok = false;
      break;
    }
  }
  if (d.ok && eof) d.ok = dec.finish_eof();
  d.done = dec.done();
  d.error = dec.error();
  return d;
}

const std::string kChunked =
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    "1a\r\n{\"stream\":\"Step 1/2 : FR\"}\r\n"
    "7\r\nOM x\\n\n\r\n"
    "0\r\n\r\n";
const std::string kChunkedBody = "{\"stream\":\"Step 1/2 : FR\"}OM x\\n\n";

}  // namespace

TEST(ResponseDecoder, chunked_body_is_the_same_when_split_at_every_byte) {
  const auto whole = decode({kChunked});
  ASSERT_TRUE(whole.ok) << whole.error;
  EXPECT_TRUE(whole.done);
  EXPECT_EQ(whole.status, 200);
  EXPECT_EQ(whole.body, kChunkedBody);
  for (std::size_t cut = 0; cut <= kChunked.size(); ++cut) {
    std::string_view w(kChunked);
    const auto d = decode({w.substr(0, cut), w.substr(cut)});
    ASSERT_TRUE(d.ok) << "cut at " << cut << ": " << d.error;
    EXPECT_TRUE(d.done) << "cut at " << cut;
    EXPECT_EQ(d.body, kChunkedBody) << "cut at " << cut;
  }
}

TEST(ResponseDecoder, chunked_body_fed_one_byte_at_a_time_is_complete) {
  std::vector<std::string_view> bytes;
  std::string_view w(kChunked);
  for (std::size_t i = 0; i < w.size(); ++i) bytes.push_back(w.substr(i, 1));
  const auto d = decode(bytes);
  ASSERT_TRUE(d.ok) << d.error;
  EXPECT_TRUE(d.done);
  EXPECT_EQ(d.body, kChunkedBody);
}

TEST(ResponseDecoder, content_length_body_and_error_status_are_reported) {
  const std::string wire =
      "HTTP/1.1 404 Not Found\r\nContent-Length: 29\r\n\r\n{\"message\":\"No such image\"}\n\n";
  for (std::size_t cut = 0; cut <= wire.size(); ++cut) {
    std::string_view w(wire);
    const auto d = decode({w.substr(0, cut), w.substr(cut)});
    ASSERT_TRUE(d.ok) << cut;
    EXPECT_EQ(d.status, 404);
    EXPECT_EQ(d.body, "{\"message\":\"No such image\"}\n\n");
  }
}

TEST(ResponseDecoder, body_delimited_by_eof_completes_on_eof) {
  const auto d = decode({"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nraw bytes"}, true);
  ASSERT_TRUE(d.ok) << d.error;
  EXPECT_TRUE(d.done);
  EXPECT_EQ(d.body, "raw bytes");
}

TEST(ResponseDecoder, truncated_chunked_response_is_an_error_at_eof) {
  const auto d = decode({std::string_view(kChunked).substr(0, 60)}, true);
  EXPECT_FALSE(d.ok);
  EXPECT_NE(d.error.find("closed the connection"), std::string::npos) << d.error;
}

TEST(ResponseDecoder, garbage_is_a_protocol_error_naming_the_daemon) {
  const auto d = decode({"SSH-2.0-OpenSSH\r\n\r\n"});
  EXPECT_FALSE(d.ok);
  EXPECT_NE(d.error.find("malformed HTTP response"), std::string::npos) << d.error;
}

TEST(ResponseDecoder, a_sink_returning_false_stops_decoding) {
  int pieces = 0;
  ResponseDecoder dec({nullptr, [&](std::string_view) {
                         ++pieces;
                         return false;
                       }});
  EXPECT_FALSE(dec.feed(kChunked));
  EXPECT_TRUE(dec.stopped());
  EXPECT_EQ(pieces, 1);
}

namespace {

std::string frame(int stream, std::string_view payload) {
  std::string f(8, '\0');
  f[0] = static_cast<char>(stream);
  const auto n = static_cast<std::uint32_t>(payload.size());
  f[4] = static_cast<char>(n >> 24);
  f[5] = static_cast<char>(n >> 16);
  f[6] = static_cast<char>(n >> 8);
  f[7] = static_cast<char>(n);
  return f + std::string(payload);
}

using Lines = std::vector<std::pair<int, std::string>>;

Lines demux(const std::vector<std::string_view>& pieces) {
  Lines out;
  LogDemuxer d([&](int s, std::string_view l) { out.emplace_back(s, std::string(l)); });
  for (auto p : pieces) d.feed(p);
  d.flush();
  return out;
}

}  // namespace

TEST(LogDemuxer, frames_split_at_every_byte_give_the_same_lines) {
  const std::string wire = frame(1, "hello\nwor") + frame(2, "oops\r\n") + frame(1, "ld\n") + frame(1, "") +
                           frame(2, "no newline at end");
  const Lines expected = {{1, "hello"}, {2, "oops"}, {1, "world"}, {2, "no newline at end"}};
  EXPECT_EQ(demux({wire}), expected);
  for (std::size_t a = 0; a <= wire.size(); ++a) {
    std::string_view w(wire);
    EXPECT_EQ(demux({w.substr(0, a), w.substr(a)}), expected) << "cut at " << a;
  }
  std::vector<std::string_view> bytes;
  for (std::size_t i = 0; i < wire.size(); ++i) bytes.push_back(std::string_view(wire).substr(i, 1));
  EXPECT_EQ(demux(bytes), expected);
}

TEST(LogDemuxer, an_endless_line_is_cut_into_bounded_pieces) {
  const std::string big(LogDemuxer::kMaxLine * 2 + 10, 'x');
  const auto lines = demux({frame(1, big)});
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0].second.size(), LogDemuxer::kMaxLine);
  EXPECT_EQ(lines[2].second.size(), 10u);
}

TEST(LineSplitter, json_lines_split_anywhere_are_reassembled) {
  const std::string wire = "{\"a\":1}\r\n{\"b\":2}\n\n{\"c\":3}";
  for (std::size_t cut = 0; cut <= wire.size(); ++cut) {
    std::vector<std::string> got;
    LineSplitter s([&](std::string_view l) { got.emplace_back(l); });
    s.feed(std::string_view(wire).substr(0, cut));
    s.feed(std::string_view(wire).substr(cut));
    s.flush();
    EXPECT_EQ(got, (std::vector<std::string>{"{\"a\":1}", "{\"b\":2}", "{\"c\":3}"})) << cut;
  }
}
