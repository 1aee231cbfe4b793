// The dashboard's static files (src/admin/dashboard/), compiled into the binary by
// embed_dashboard.cmake and served at / and /dashboard/<name> (docs/operations.md, "Dashboard").
#pragma once

#include <string_view>
#include <vector>

#include "admin/router.hpp"

namespace edgemq::admin {

struct dashboard_asset {
  std::string_view name;          // "index.html"
  std::string_view content_type;  // "text/html; charset=utf-8"
  std::string_view etag;          // quoted, as sent
  std::string_view body;
};

// Generated (dashboard_assets.cpp in the build tree).
const std::vector<dashboard_asset>& dashboard_assets();

// GET / or /dashboard/...: the file with its content type, an ETag and "Cache-Control: no-cache"
// (revalidated on each load, 304 when unchanged, so a new binary's page is never stale); 404 for
// an unknown name. `if_none_match`: the request's If-None-Match header.
http_response dashboard_file(std::string_view path, std::string_view if_none_match);

}  // namespace edgemq::admin
