#include "app/security_settings.hpp"

#include "auth/aio_policy.hpp"
#include "auth/file_password_checker.hpp"

namespace edgemq::app {

bool security_settings::load_passwords(std::string& why) {
  if (cfg_.password_file.empty()) return true;
  auto f = auth::password_file::load(cfg_.password_file, why);
  if (!f) return false;
  why = std::to_string(f->size()) + " users, " + std::to_string(f->scram_size()) + " with SCRAM-SHA-256";
  auto file = std::make_shared<const auth::password_file>(std::move(*f));
  passwords_ = std::make_shared<auth::file_password_checker>(file);
  password_db_->set(std::move(file));
  return true;
}

bool security_settings::load_policy(std::string& why) {
  if (cfg_.authz_file.empty()) return true;
  auto p = auth::aio_policy::load(cfg_.authz_file, why);
  if (!p) return false;
  why = std::to_string(p->rule_count()) + " rules";
  policy_ = std::move(p);
  return true;
}

bool security_settings::load_jwt(std::string& why) {
  const auto& o = cfg_.jwt;
  if (!o.enabled()) return true;
  auto s = std::make_shared<auth::jwt_settings>();
  for (const auto& path : o.key_files)
    if (!s->keys.add_pem_file(path, why)) return why = "JWT key " + why, false;
  if (!o.jwks_file.empty() && !s->keys.add_jwks_file(o.jwks_file, why)) return why = "JWKS " + why, false;
  s->policy.issuer = o.issuer;
  s->policy.audiences = o.audiences;
  s->policy.leeway_seconds = o.leeway_s;
  why = std::to_string(s->keys.size()) + " keys";
  jwt_->set(std::move(s));
  return true;
}

// A method is offered only when what it checks against is configured: a CONNECT naming one
// that is not is refused with 0x8C, as any unknown method.
void security_settings::register_methods() {
  if (cfg_.jwt.enabled())
    core_.authenticators().add(auth::k8s_sat_method, [s = jwt_] { return auth::make_sat_exchange(s); });
  if (!cfg_.password_file.empty())
    core_.authenticators().add(auth::scram_sha256_method, [p = password_db_] { return auth::make_scram_exchange(p); });
}

bool security_settings::load(std::string& why) {
  if (!load_passwords(why)) return false;
  if (!cfg_.password_file.empty()) log_->info("password file '{}' loaded ({})", cfg_.password_file, why);
  if (!load_policy(why)) return false;
  if (!cfg_.authz_file.empty()) log_->info("authorization policy '{}' loaded ({}); default deny", cfg_.authz_file, why);
  if (!load_jwt(why)) return false;
  if (cfg_.jwt.enabled()) log_->info("JWT keys loaded ({}); enhanced authentication K8S-SAT enabled", why);
  register_methods();
  install();
  return true;
}

void security_settings::reload(std::vector<std::string>* loaded,
                               std::vector<std::pair<std::string, std::string>>* failed) {
  if (cfg_.password_file.empty() && cfg_.authz_file.empty() && !cfg_.jwt.enabled()) {
    log_->info("reload: no security files configured, nothing to reload");
    return install();
  }
  // The lines are written once the new snapshots are installed: "new connections use it" is
  // true from the moment it is logged (tests, and operators, act on the line).
  std::vector<std::pair<spdlog::level::level_enum, std::string>> lines;
  const auto ok = [&](const char* what, std::string line) {
    if (loaded) loaded->emplace_back(what);
    lines.emplace_back(spdlog::level::info, std::move(line));
  };
  const auto bad = [&](const char* what, const std::string& why, std::string line) {
    if (failed) failed->emplace_back(what, why);
    lines.emplace_back(spdlog::level::err, std::move(line));
  };
  std::string why;
  if (!cfg_.password_file.empty()) {
    if (load_passwords(why))
      ok("password_file",
         fmt::format("reload: password file '{}' loaded ({}); new connections use it", cfg_.password_file, why));
    else
      bad("password_file", why, fmt::format("reload: {}; keeping the previous password file", why));
  }
  if (!cfg_.authz_file.empty()) {
    if (load_policy(why))
      ok("authz_file", fmt::format("reload: authorization policy '{}' loaded ({}); new connections use it, "
                                   "connected clients keep their permissions",
                                   cfg_.authz_file, why));
    else
      bad("authz_file", why, fmt::format("reload: {}; keeping the previous authorization policy", why));
  }
  if (cfg_.jwt.enabled()) {
    if (load_jwt(why))
      ok("jwt_keys", fmt::format("reload: JWT keys loaded ({}); new tokens are checked with them", why));
    else
      bad("jwt_keys", why, fmt::format("reload: {}; keeping the previous JWT keys", why));
  }
  install();
  for (const auto& [level, line] : lines) log_->log(level, line);
}

void security_settings::install() {
  const auto& listeners = cfg_.server.listeners;
  for (std::size_t i = 0; i < listeners.size(); ++i) {
    auto s = std::make_shared<broker::listener_security>();
    s->allow_anonymous = listeners[i].allow_anonymous.value_or(true);
    s->passwords = passwords_;
    if (listeners[i].authorization) s->authz = policy_;
    core_.set_listener_security(static_cast<std::uint32_t>(i), std::move(s));
  }
}

}  // namespace edgemq::app
