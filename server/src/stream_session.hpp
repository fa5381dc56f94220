#pragma once
// One WebSocket = one runtime::Session (docs/streaming.md, "A session").
//
// Threads: the reader and the writer are coroutines on the socket's strand (one read and one
// write outstanding at most, as Beast requires). The reader pushes a decoded input straight
// into the running session with the non-blocking Session::try_push; while the first node's
// queue is full (or the session is still starting, or inputs are already waiting), inputs go
// to the inbox of a feeder thread, which started the runtime session and makes the blocking
// push (the pipeline's backpressure, kept off the io threads). The reader stops reading while
// the inbox is full, so a fast client meets TCP backpressure instead of growing memory. A waiter
// thread reports the session's end. Outputs are encoded on the output node's thread into the
// bounded FrameQueue the writer drains. A pipeline of native nodes runs inline
// (ServerOptions::inline_nodes): the reader's try_push runs the nodes on the io thread and
// their outputs reach the writer on that thread, with no hand-off at all.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <boost/json/object.hpp>

#include "runtime/executor.hpp"
#include "server/frame_queue.hpp"
#include "server/pipeline_catalog.hpp"
#include "server/protocol.hpp"

namespace rm::server {

class ServerContext;

class StreamSession : public std::enable_shared_from_this<StreamSession> {
 public:
  StreamSession(ServerContext& ctx, boost::beast::tcp_stream stream);
  ~StreamSession();

  // Accepts the upgrade and runs the session to its end (call on the socket's strand).
  boost::asio::awaitable<void> run(boost::beast::http::request<boost::beast::http::string_body> req);
  // Any thread: close with 1001 and cancel the pipeline (drain deadline).
  void shut_down();
  // {"id","pipeline","started","bytes_in","bytes_out","frames_in","frames_out"}
  boost::json::object info() const;

 private:
  using Clock = std::chrono::steady_clock;
  struct Inbound {
    enum class Kind { data, end, stop, finished } kind = Kind::data;
    std::string input;
    runtime::DataPtr data;
    runtime::SessionStatus status;
  };

  boost::asio::awaitable<void> write_loop();
  boost::asio::awaitable<void> tick_loop();
  void on_text(const std::string& text);
  void on_binary(std::span<const std::byte> frame);
  // Sends an error message and a close, then stops the pipeline (strand only).
  void fail(CloseCode code, const std::string& message,
            runtime::NodeErrorCode err = runtime::NodeErrorCode::invalid_input, std::string_view node = {},
            std::string_view param = {});
  void enqueue(Inbound item);
  // An input frame: straight into the pipeline when it has room (on the io thread, no
  // hand-off), else to the feeder thread, which blocks on the pipeline's backpressure.
  void push_input(std::string input, runtime::DataPtr data);
  bool inbox_full();
  void feed(const ServedPipeline* served, std::string requested_id, std::vector<ParamOverride> params);
  void deliver(const std::string& node_id, const runtime::DataPtr& data);
  void node_ready(const std::string& node_id, std::size_t ready, std::size_t total);
  void send_text(std::string text, bool unbounded = false);
  void send_close(CloseCode code, const std::string& reason);
  void wake(boost::asio::steady_timer& timer);
  void part_done();

  ServerContext& ctx_;
  boost::beast::websocket::stream<boost::beast::tcp_stream> ws_;
  boost::asio::steady_timer wake_timer_;   // writer: frames queued
  boost::asio::steady_timer space_timer_;  // reader: inbox has room
  boost::asio::steady_timer tick_timer_;   // idle, stalled writes, start-up progress
  FrameQueue outbox_;

  // Strand only.
  bool started_ = false;
  bool closing_ = false;
  bool all_inputs_ended_ = false;
  bool reader_done_ = false;
  int parts_left_ = 2;  // reader and feeder
  Clock::time_point last_frame_;
  Clock::time_point writing_since_{};
  Clock::time_point last_progress_;
  std::vector<std::string> inputs_;
  std::thread feeder_;

  // Shared with the feeder thread.
  std::mutex inbox_mutex_;
  std::condition_variable inbox_cv_;
  std::deque<Inbound> inbox_;
  std::size_t inbox_data_ = 0;
  runtime::Session* direct_ = nullptr;  // the running session, while the reader may push into it
  bool direct_inline_ = false;          // it runs its nodes on the pushing thread
  bool feeder_busy_ = false;            // the feeder holds an input it has not pushed yet

  // Start-up state, shared with node threads.
  mutable std::mutex state_mutex_;
  std::string id_;
  std::string pipeline_;
  boost::json::object params_;  // the session params the client set
  std::chrono::system_clock::time_point started_at_;
  std::set<std::string> waiting_;
  std::size_t total_nodes_ = 0;
  std::atomic<bool> ready_{false};

  // Input arrival times by media timestamp, for the latency histogram (ring).
  std::mutex arrivals_mutex_;
  std::vector<std::pair<std::int64_t, Clock::time_point>> arrivals_;
  std::size_t arrivals_next_ = 0;

  std::atomic<std::uint64_t> frames_in_{0}, frames_out_{0}, bytes_in_{0}, bytes_out_{0};
};

}  // namespace rm::server
