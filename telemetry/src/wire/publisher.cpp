// Publisher factory: the embedded broker's ReliablePublisher or JetStream, chosen by NATS_URL.
#include "telemetry/wire/publisher.hpp"

#include "cluster/nats_publisher.hpp"

namespace rm::telemetry {

namespace {
class BrokerPublisher final : public BatchPublisher {
 public:
  BrokerPublisher(PublisherOptions o, OnAck on_ack) : pub_(std::move(o), std::move(on_ack)) {}
  [[nodiscard]] tl::expected<std::uint64_t, ClientError> publish(std::vector<OutSample> samples) override {
    return pub_.publish(std::move(samples));
  }
  [[nodiscard]] tl::expected<void, ClientError> flush(std::chrono::milliseconds timeout) override {
    return pub_.flush(timeout);
  }
  PublisherStats stats() const override { return pub_.stats(); }
  bool connected() const override { return pub_.connected(); }

 private:
  ReliablePublisher pub_;
};
}  // namespace

Result<PublisherFactory> make_publisher_factory(const StreamerConfig& cfg) {
  if (cfg.nats) {
    return make_nats_publisher_factory(*cfg.nats, cfg.producer_prefix);
  }
  return PublisherFactory(
      [host = cfg.broker_host, port = cfg.broker_port, token = cfg.broker_token](
          const std::string& producer, const std::atomic<bool>* cancel, BatchPublisher::OnAck on_ack) {
        PublisherOptions po;
        po.host = host;
        po.port = port;
        po.producer_id = producer;
        po.token = token;
        po.cancel = cancel;
        return std::unique_ptr<BatchPublisher>(std::make_unique<BrokerPublisher>(po, std::move(on_ack)));
      });
}

}  // namespace rm::telemetry
