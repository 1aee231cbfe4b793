// The device hub: IoT Hub's registry, twins, direct methods and cloud-to-device messages at the
// edge (hub.hpp), and the device side of its MQTT dialect: it decides the CONNECTs of that dialect
// (a broker::connect_interceptor: SAS tokens and certificate thumbprints against the registry),
// consumes the `$iothub/...` requests of device connections (a prefix topic_service, answering
// only the requesting client) and annotates telemetry on `devices/...` with its property bag.
//
// State: the registry and twins in memory, authoritative, guarded by one mutex; every change is
// written through to the state store (key layout: docs/devices.md, "Storage") and answered only
// once written. Socket-free: the store is reached through a submit function (statestore::store's
// operator requests in the daemon, a map in the tests).
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "broker/broker.hpp"
#include "broker/connect_interceptor.hpp"
#include "devices/hub.hpp"
#include "statestore/store.hpp"

namespace spdlog {
class logger;
}

namespace edgemq::devices {

// The state store key prefixes (docs/devices.md, "Storage"): "$devices/registry/<id>" holds the
// device record, "$devices/twins/<id>" its twin (JSON, "format": 1).
inline constexpr std::string_view registry_prefix = "$devices/registry/";
inline constexpr std::string_view twins_prefix = "$devices/twins/";
// Lifecycle events: "$edgemq/events/devices/<id>/<connected|disconnected|twinChanged|created|updated|deleted>".
inline constexpr std::string_view events_prefix = "$edgemq/events/devices/";

struct hub_options {
  std::string hostname;                                               // devices.hostname
  std::vector<std::pair<std::string, std::string>> service_policies;  // name, base64 key
};

class device_hub final : public hub, public broker::topic_service, public broker::connect_interceptor {
 public:
  using submit_fn =
      std::function<void(statestore::store::operator_request, std::function<void(statestore::store::operator_reply)>)>;

  // Registers with `b` (the `$iothub/` and `devices/` prefixes, the connect interceptor): construct
  // before the listeners accept. Until start() device CONNECTs are refused (server unavailable).
  device_hub(broker::broker& b, hub_options o, std::shared_ptr<spdlog::logger> log,
             std::function<std::uint64_t()> wall_ms = {});
  ~device_hub() override;

  // Loads the registry and twins through `submit` (blocks until read; throws std::runtime_error
  // when the store refuses), then serves. Without a store (null) everything stays in memory.
  void start(submit_fn submit);
  // Ends the method timer (pending methods answer `timeout`).
  void stop();

  // hub
  void put_device(device d, std::string if_match, std::function<void(status, device)> done) override;
  std::optional<device> get_device(const std::string& id) const override;
  std::vector<device> list_devices() const override;
  void delete_device(const std::string& id, std::string if_match, std::function<void(status)> done) override;
  std::optional<twin> get_twin(const std::string& id) const override;
  void patch_twin(const std::string& id, const nlohmann::json& patch, std::string if_match,
                  std::function<void(status, twin)> done) override;
  void invoke_method(method_request r, std::function<void(status, method_response)> done) override;
  status send_c2d(const std::string& id, c2d_message m) override;
  std::string hostname() const override { return opts_.hostname; }
  std::optional<std::string> service_key(const std::string& policy) const override;

  // broker::topic_service
  mqtt::reason_code on_publish(const broker::publish_context& ctx, mqtt::publish& p) override;
  void on_connection_closed(std::string_view client_id, std::uint64_t connection_id) override;
  // broker::connect_interceptor
  std::optional<broker::connect_decision> on_connect(const mqtt::connect& c, const broker::peer_certificate* cert,
                                                     std::uint64_t connection_id) override;
  void on_connected(std::string_view client_id, std::uint64_t connection_id) override;

 private:
  struct entry {
    device d;
    twin t;
    bool desired_pending = false;  // desired changed while the device was not connected
  };
  struct connection {
    std::string device_id, module_id, client_id;
    bool confirmed = false;  // CONNACK sent (always, since they are registered then)
  };
  struct pending_method {
    std::string device_id;
    std::function<void(status, method_response)> done;
    std::chrono::steady_clock::time_point deadline;
  };
  using kv_write = std::pair<std::string, std::optional<std::string>>;  // key, value (nullopt: delete)

  // Writes through to the store; `done(ok)` on the store's thread (at once without a store).
  void write(std::vector<kv_write> kvs, std::function<void(bool)> done);
  static std::string registry_record(const device& d);
  std::string twin_record(const entry& e) const;
  void load(const submit_fn& submit);

  // mu_ held: whether the device has a confirmed connection of its own (not a module's).
  bool device_connected_locked(const std::string& id) const;
  void touch_locked(std::uint64_t connection_id);
  // Closes every connection of `id` (its modules' too); `end`: ends the device's session as well.
  void disconnect_device(const std::string& id, bool end);
  void publish_event(const std::string& id, std::string_view kind, nlohmann::json body);
  // Answers one client only (never routed).
  void reply(const std::string& client_id, std::string topic, std::string payload);
  void push_desired(const std::string& id, const nlohmann::json& patch, std::uint64_t version);

  void twin_get(const connection& c, const std::string& rid);
  void reported_patch(const connection& c, const std::string& rid, const std::string& body);
  void method_response_from(const connection& c, std::string_view status_text, const std::string& rid,
                            const std::string& body);
  void annotate_telemetry(mqtt::publish& p);
  void run_timer();

  broker::broker& broker_;
  hub_options opts_;
  std::shared_ptr<spdlog::logger> log_;
  std::function<std::uint64_t()> wall_ms_;
  submit_fn submit_;

  mutable std::mutex mu_;
  bool started_ = false;
  std::map<std::string, entry> entries_;
  std::unordered_map<std::uint64_t, connection> connections_;
  std::map<std::string, pending_method> methods_;
  std::uint64_t next_rid_ = 1;

  std::condition_variable timer_cv_;
  bool stopping_ = false;
  std::thread timer_;
};

}  // namespace edgemq::devices
