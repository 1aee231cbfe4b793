// How a record looks to a destination that takes JSON (the Http and File endpoints): one object
// per record, documented in docs/dataflows.md ("Endpoints"). Shared so that a webhook and a file
// see the same shape.
#pragma once

#include <span>
#include <string>

#include <nlohmann/json.hpp>

#include "dataflow/record.hpp"

namespace edgemq::dataflow {

// {"topic", "payload", "payloadEncoding": "json"|"utf-8"|"base64", "userProperties": [[k, v], ...],
//  "contentType"?, "timestamp"}: the payload as JSON when it parses as JSON, else as a string
// when it is valid UTF-8, else base64.
nlohmann::json record_to_json(const record& r);
// The batch as a JSON array of record_to_json, serialized.
std::string records_to_json_array(std::span<const record> batch);

}  // namespace edgemq::dataflow
