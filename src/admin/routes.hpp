// The route handlers behind router.cpp's dispatch, one file per resource (internal to src/admin).
// Each gets the path's remainder already percent-decoded and the parsed query.
#pragma once

#include <string>

#include "admin/route_util.hpp"

namespace edgemq::dataflow {
enum class resource_kind;
}

namespace edgemq::admin {

// routes_clients.cpp: /api/v1/clients, /api/v1/clients/{id}, /api/v1/sessions/{id}
http_response list_clients(const admin_context& ctx, const http_request& req, const query_map& q);
http_response client_route(const admin_context& ctx, const http_request& req, const std::string& id);
http_response session_route(const admin_context& ctx, const http_request& req, const std::string& id);

// routes_retained.cpp: /api/v1/retained, /api/v1/retained/{topic}
http_response list_retained(const admin_context& ctx, const http_request& req, const query_map& q);
http_response retained_route(const admin_context& ctx, const http_request& req, const std::string& topic);

// routes_statestore.cpp: /api/v1/statestore/keys, /api/v1/statestore/keys/{key}
http_response list_keys(const admin_context& ctx, const http_request& req, const query_map& q);
http_response key_route(const admin_context& ctx, const http_request& req, const std::string& key);

// routes_commands.cpp: POST /api/v1/clients/{id}/commands/{name}
http_response command_route(const admin_context& ctx, const http_request& req, const std::string& client_id,
                            const std::string& name);

// routes_dataflows.cpp: /api/v1/dataflows[/{name}], /api/v1/dataflow-endpoints[/{name}]
http_response list_definitions(const admin_context& ctx, const http_request& req, const query_map& q,
                               dataflow::resource_kind kind);
http_response definition_route(const admin_context& ctx, const http_request& req, const std::string& name,
                               dataflow::resource_kind kind);

// routes_devices.cpp: IoT Hub's service API (/devices..., /twins/...), with its own authorization
// (a service policy's SharedAccessSignature, or the operator's bearer token: `operator_authorized`).
bool is_iothub_path(const std::string& path);
http_response iothub_route(const admin_context& ctx, const http_request& req, const std::string& path,
                           const query_map& q, bool operator_authorized);

}  // namespace edgemq::admin
