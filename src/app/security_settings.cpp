#include "app/security_settings.hpp"

#include "auth/aio_policy.hpp"
#include "auth/file_password_checker.hpp"

namespace edgemq::app {

bool security_settings::load_passwords(std::string& why) {
  if (cfg_.password_file.empty()) return true;
  auto f = auth::password_file::load(cfg_.password_file, why);
  if (!f) return false;
  why = std::to_string(f->size()) + " users";
  passwords_ = std::make_shared<auth::file_password_checker>(std::move(*f));
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

bool security_settings::load(std::string& why) {
  if (!load_passwords(why)) return false;
  if (!cfg_.password_file.empty()) log_->info("password file '{}' loaded ({})", cfg_.password_file, why);
  if (!load_policy(why)) return false;
  if (!cfg_.authz_file.empty()) log_->info("authorization policy '{}' loaded ({}); default deny", cfg_.authz_file, why);
  install();
  return true;
}

void security_settings::reload() {
  if (cfg_.password_file.empty() && cfg_.authz_file.empty()) {
    log_->info("reload: no security files configured, nothing to reload");
    return install();
  }
  std::string why;
  if (!cfg_.password_file.empty()) {
    if (load_passwords(why))
      log_->info("reload: password file '{}' loaded ({}); new connections use it", cfg_.password_file, why);
    else
      log_->error("reload: {}; keeping the previous password file", why);
  }
  if (!cfg_.authz_file.empty()) {
    if (load_policy(why))
      log_->info(
          "reload: authorization policy '{}' loaded ({}); new connections use it, connected clients keep "
          "their permissions",
          cfg_.authz_file, why);
    else
      log_->error("reload: {}; keeping the previous authorization policy", why);
  }
  install();
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
