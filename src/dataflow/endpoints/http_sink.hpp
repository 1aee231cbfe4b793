// The Http endpoint (ours): an HTTP(S) webhook. Each batch is one POST whose body is a JSON array
// of records (record_json.hpp); only a 2xx answer acknowledges it. The connection is kept open
// between batches (and made again when the server closed it); TLS verifies the server against a CA
// file or the system's store, with the host name checked. Retries are the runtime's: a failed send
// says what happened (status and body start, or the connect/TLS/timeout error).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "dataflow/endpoint.hpp"
#include "dataflow/problems.hpp"

namespace boost::asio {
class io_context;
}
namespace spdlog {
class logger;
}

namespace edgemq::dataflow {

struct http_settings {
  std::string url;  // as written
  bool tls = false;
  std::string host, port, target;  // from the URL
  std::vector<std::pair<std::string, std::string>> headers;
  std::size_t max_messages = 100;    // batching.maxMessages
  std::string ca_file;               // tls.caFile (empty: the system's CA store)
  std::chrono::seconds timeout{30};  // timeoutSeconds: one whole request
};

// spec.httpSettings; problems under `path` (the spec's pointer).
http_settings parse_http_settings(const nlohmann::json& spec, const std::string& path, problems& out);

std::unique_ptr<sink> make_http_sink(http_settings settings, boost::asio::io_context& io,
                                     std::shared_ptr<spdlog::logger> log);

}  // namespace edgemq::dataflow
