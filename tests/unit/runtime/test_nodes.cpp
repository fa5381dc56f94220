#include "test_nodes.hpp"

#include <chrono>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "runtime/node_registry.hpp"

namespace rm::runtime::testing {
namespace {

std::mutex g_mutex;
std::map<std::string, int> g_closed;

void note_closed(const std::string& session) {
  std::lock_guard lock(g_mutex);
  ++g_closed[session];
}

ParamSpec param(std::string name, ParamType type, boost::json::value def, std::optional<double> min = {},
                std::optional<double> max = {}) {
  ParamSpec p;
  p.name = std::move(name);
  p.type = type;
  p.default_value = std::move(def);
  p.min = min;
  p.max = max;
  return p;
}

// Forwards every input; adds `tag` to a text input. Counts itself closed.
class TestRelay : public Node {
 public:
  explicit TestRelay(const NodeInit& init)
      : session_(init.session_id), tag_(param_string(init.params, "tag")) {}
  Status process(const DataPtr& in, Emitter& out) override {
    if (!tag_.empty() && in->text())
      return out.emit(RuntimeData::make_text(in->text()->text + tag_, in->timestamp_us));
    return out.emit(in);
  }
  void close() override { note_closed(session_); }

 private:
  std::string session_;
  std::string tag_;
};

// Sleeps `init_ms` in initialize() (a slow start, like an image build), `delay_ms` per input,
// then forwards it (a slow consumer).
class TestSlow : public Node {
 public:
  explicit TestSlow(const NodeInit& init)
      : session_(init.session_id),
        delay_(param_int(init.params, "delay_ms")),
        init_(param_int(init.params, "init_ms")) {}
  Status initialize() override {
    std::this_thread::sleep_for(std::chrono::milliseconds(init_));
    return {};
  }
  Status process(const DataPtr& in, Emitter& out) override {
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_));
    return out.emit(in);
  }
  void close() override { note_closed(session_); }

 private:
  std::string session_;
  std::int64_t delay_;
  std::int64_t init_;
};

// Fails on the N-th input (1-based); fail_at 0 fails initialize().
class TestFail : public Node {
 public:
  explicit TestFail(const NodeInit& init)
      : session_(init.session_id), id_(init.node_id), fail_at_(param_int(init.params, "fail_at")) {}
  Status initialize() override {
    if (fail_at_ == 0)
      return node_error(NodeErrorCode::init_failed, "node " + id_ + ": injected start failure");
    return {};
  }
  Status process(const DataPtr& in, Emitter& out) override {
    if (++seen_ == fail_at_)
      return node_error(NodeErrorCode::process_failed, "node " + id_ + ": injected failure");
    return out.emit(in);
  }
  void close() override { note_closed(session_); }

 private:
  std::string session_;
  std::string id_;
  std::int64_t fail_at_;
  std::int64_t seen_ = 0;
};

// Counts inputs and emits the count as text in flush() (shows flush runs after all inputs).
class TestCounter : public Node {
 public:
  explicit TestCounter(const NodeInit& init) : session_(init.session_id) {}
  Status process(const DataPtr&, Emitter&) override {
    ++n_;
    return {};
  }
  Status flush(Emitter& out) override { return out.emit(RuntimeData::make_text(std::to_string(n_), 0)); }
  void close() override { note_closed(session_); }

 private:
  std::string session_;
  std::int64_t n_ = 0;
};

NodeContract contract(std::string type, std::vector<ParamSpec> params) {
  NodeContract c;
  c.node_type = std::move(type);
  c.description = "test node";
  c.params = std::move(params);
  return c;
}

}  // namespace

int closed_count(const std::string& session_id) {
  std::lock_guard lock(g_mutex);
  return g_closed[session_id];
}

void register_test_nodes() {
  static std::once_flag once;
  std::call_once(once, [] {
    auto& r = NodeRegistry::instance();
    auto make = [](auto tag) {
      using T = typename decltype(tag)::type;
      return [](const NodeInit& init) -> tl::expected<std::unique_ptr<Node>, NodeError> {
        return std::unique_ptr<Node>(std::make_unique<T>(init));
      };
    };
    r.add(contract("TestRelay",
                   {param("tag", ParamType::string, ""), param("gain", ParamType::number, 1.0, 0.0, 10.0)}),
          make(std::type_identity<TestRelay>{}));
    r.add(contract("TestSlow", {param("delay_ms", ParamType::integer, 1, 0, 1000),
                                param("init_ms", ParamType::integer, 0, 0, 10000)}),
          make(std::type_identity<TestSlow>{}));
    r.add(contract("TestFail", {param("fail_at", ParamType::integer, 1, 0)}),
          make(std::type_identity<TestFail>{}));
    r.add(contract("TestCounter", {}), make(std::type_identity<TestCounter>{}));
    // Relays with a declared data contract, for the connection type checks.
    auto typed = [](std::string type, DataType t) {
      auto c = contract(std::move(type), {param("tag", ParamType::string, ""),
                                          param("gain", ParamType::number, 1.0, 0.0, 10.0)});
      c.accepts = {t};
      c.emits = {t};
      return c;
    };
    r.add(typed("TestTextOnly", DataType::text), make(std::type_identity<TestRelay>{}));
    r.add(typed("TestAudioOnly", DataType::audio), make(std::type_identity<TestRelay>{}));
  });
}

PipelineExecutor WithTestNodes::make(const std::string& yaml) {
  auto m = Manifest::from_string(yaml);
  if (!m) throw std::runtime_error(m.error().to_string());
  return PipelineExecutor(std::move(*m));
}

}  // namespace rm::runtime::testing
