#include "admin/dashboard.hpp"

#include <string>

namespace edgemq::admin {

http_response dashboard_file(std::string_view path, std::string_view if_none_match) {
  constexpr std::string_view dir = "/dashboard/";
  std::string_view name = path == "/" || path == dir ? std::string_view("index.html") : path.substr(dir.size());
  for (const auto& a : dashboard_assets()) {
    if (a.name != name) continue;
    http_response r;
    r.headers = {{"ETag", std::string(a.etag)},
                 {"Cache-Control", "no-cache"},
                 {"X-Content-Type-Options", "nosniff"},
                 // Everything the page uses comes from this server; no inline script, no framing.
                 {"Content-Security-Policy",
                  "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action "
                  "'none'"}};
    // If-None-Match may list several tags; a weak comparison is fine for a GET (RFC 9110 13.1.2).
    if (!if_none_match.empty() && (if_none_match == "*" || if_none_match.find(a.etag) != std::string_view::npos)) {
      r.status = 304;
      r.content_type.clear();
      return r;
    }
    r.content_type = std::string(a.content_type);
    r.body = std::string(a.body);
    return r;
  }
  return error_response(404, "not_found", "no such dashboard file");
}

}  // namespace edgemq::admin
