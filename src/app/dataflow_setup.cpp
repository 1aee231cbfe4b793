#include "app/dataflow_setup.hpp"

#include <spdlog/spdlog.h>

#include "broker/broker.hpp"
#include "dataflow/datasets.hpp"
#include "dataflow/transform.hpp"

namespace edgemq::app {

std::unique_ptr<dataflow::runtime> make_dataflow_runtime(broker::broker& core, const config::daemon_config& cfg,
                                                         statestore::store* store,
                                                         const std::shared_ptr<spdlog::logger>& log) {
  dataflow::runtime_options o;
  o.data_dir = cfg.data_dir;
  o.buffer.max_bytes = cfg.dataflows.buffer.max_bytes;
  o.buffer.max_messages = cfg.dataflows.buffer.max_messages;
  o.buffer.when_full = cfg.dataflows.buffer.when_full == "stop" ? dataflow::buffer_limits::policy::stop
                                                                : dataflow::buffer_limits::policy::drop_oldest;
  // The transformation, its datasets read from the state store and kept fresh by its watch API
  // (no GET per message). The cache lives as long as the runtime, which stops before the store.
  auto datasets =
      store ? std::make_shared<dataflow::dataset_cache>(dataflow::statestore_dataset_source(*store)) : nullptr;
  o.compile = [datasets](const nlohmann::json& s, const std::string& path, dataflow::problems& out) {
    return dataflow::compile_transform(s, path, out, datasets);
  };
  auto rt = std::make_unique<dataflow::runtime>(core, std::move(o), log);
  core.add_sys_source([r = rt.get()](const broker::broker::sys_put& put) {
    const auto t = r->totals();
    put("$SYS/broker/dataflows/defined", t.dataflows);
    put("$SYS/broker/dataflows/running", t.running);
    put("$SYS/broker/dataflows/received", t.received);
    put("$SYS/broker/dataflows/dropped", t.dropped);
    put("$SYS/broker/dataflows/failed", t.failed);
    put("$SYS/broker/dataflows/sent", t.sent);
    put("$SYS/broker/dataflows/send_failures", t.send_failures);
    put("$SYS/broker/dataflows/evicted", t.evicted);
    put("$SYS/broker/dataflows/buffered_messages", t.buffered_messages);
    put("$SYS/broker/dataflows/buffered_bytes", t.buffered_bytes);
  });
  return rt;
}

}  // namespace edgemq::app
