#include "auth/enhanced_methods.hpp"

#include <chrono>

#include "auth/scram.hpp"

namespace edgemq::auth {
namespace {

using broker::auth_step;
using mqtt::reason_code;

class sat_exchange final : public broker::auth_exchange {
 public:
  explicit sat_exchange(std::shared_ptr<const current_value<jwt_settings>> s) : settings_(std::move(s)) {}

  auth_step start(const std::string&, const std::optional<std::string>& data) override {
    const auto s = settings_->get();
    if (!s) return auth_step::refuse(reason_code::not_authorized, "no JWT keys configured");
    if (!data || data->empty()) return auth_step::refuse(reason_code::bad_user_name_or_password, "no token");
    const auto wall_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch());
    const auto steady = std::chrono::steady_clock::now();
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(wall_ms).count();
    auto r = verify_jwt(*data, s->keys, s->policy, now);
    if (!r) {
      // A token that is valid but outside its lifetime is "not authorized"; one that is not a
      // valid token for this broker is bad credentials (MQTT 3.2.2.2).
      const bool timing = r.error == jwt_error::expired || r.error == jwt_error::not_yet_valid;
      return auth_step::refuse(timing ? reason_code::not_authorized : reason_code::bad_user_name_or_password,
                               to_string(r.error));
    }
    if (subject_ && *subject_ != r.claims.subject)
      return auth_step::refuse(reason_code::not_authorized, "re-authentication with another subject's token");
    subject_ = r.claims.subject;
    auto step = auth_step::accept();
    if (!r.claims.subject.empty()) step.username = r.claims.subject;
    for (auto& [k, v] : r.claims.flat) step.attributes.insert_or_assign(std::move(k), std::move(v));
    // exp is wall-clock time; the connection's timer runs on the steady clock. Milliseconds of
    // a clamped exp cannot overflow; a lifetime beyond ten years is taken as ten years.
    const auto left = std::chrono::milliseconds((r.claims.expires + s->policy.leeway_seconds) * 1000) - wall_ms;
    step.expires_at = steady + std::min(left, std::chrono::milliseconds(std::chrono::hours(24 * 3650)));
    return step;
  }

  // K8S-SAT is one step: a client answering a challenge we never sent breaks the protocol.
  auth_step next(const std::optional<std::string>&) override {
    return auth_step::refuse(reason_code::protocol_error, "K8S-SAT has no second step");
  }

 private:
  std::shared_ptr<const current_value<jwt_settings>> settings_;
  std::optional<std::string> subject_;  // the first token's, which re-authentication must keep
};

class scram_exchange final : public broker::auth_exchange {
 public:
  explicit scram_exchange(std::shared_ptr<const current_value<password_file>> p) : passwords_(std::move(p)) {}

  auth_step start(const std::string&, const std::optional<std::string>& data) override {
    const auto file = passwords_->get();
    server_ = std::make_unique<scram_server>([file](std::string_view user) -> std::optional<scram_credentials> {
      if (!file) return std::nullopt;
      return file->scram(user);
    });
    const auto first = server_->start(data.value_or(""));
    if (!first) return auth_step::refuse(reason_code::bad_user_name_or_password, server_->error());
    return auth_step::challenge(*first);
  }

  auth_step next(const std::optional<std::string>& data) override {
    if (!server_ || server_->user().empty())
      return auth_step::refuse(reason_code::protocol_error, "SCRAM client-final without client-first");
    const auto final_message = server_->finish(data.value_or(""));
    const auto user = server_->user();
    const auto why = server_->error();
    server_.reset();  // one proof per exchange
    if (!final_message) return auth_step::refuse(reason_code::bad_user_name_or_password, why);
    if (user_ && *user_ != user)
      return auth_step::refuse(reason_code::not_authorized, "re-authentication as another user");
    user_ = user;
    auto step = auth_step::accept(*final_message);
    step.username = user;
    return step;
  }

 private:
  std::shared_ptr<const current_value<password_file>> passwords_;
  std::unique_ptr<scram_server> server_;
  std::optional<std::string> user_;
};

}  // namespace

std::unique_ptr<broker::auth_exchange> make_sat_exchange(std::shared_ptr<const current_value<jwt_settings>> settings) {
  return std::make_unique<sat_exchange>(std::move(settings));
}

std::unique_ptr<broker::auth_exchange> make_scram_exchange(
    std::shared_ptr<const current_value<password_file>> passwords) {
  return std::make_unique<scram_exchange>(std::move(passwords));
}

}  // namespace edgemq::auth
