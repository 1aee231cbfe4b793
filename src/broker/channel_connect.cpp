// CONNECT and AUTH: version detection, enhanced authentication, session attach or takeover,
// CONNACK with the server's limits.
#include <random>

#include <spdlog/spdlog.h>

#include "broker/client_channel.hpp"
#include "broker/log_safe.hpp"
#include "broker/topic_access.hpp"

namespace edgemq::broker {
namespace {

std::string random_client_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char hex[] = "0123456789abcdef";
  std::string id = "edgemq-";
  auto v = rng();
  for (int i = 0; i < 16; ++i, v >>= 4) id.push_back(hex[v & 0xF]);
  return id;
}

// Whether a CONNECT that failed to decode at least claims MQTT 5, so the refusal can be a
// CONNACK the client understands (MQTT 4.13.1).
bool claims_v5(std::span<const std::uint8_t> body) {
  return body.size() >= 7 && body[0] == 0 && body[1] == 4 && body[2] == 'M' && body[3] == 'Q' && body[4] == 'T' &&
         body[5] == 'T' && body[6] == 5;
}

}  // namespace

void client_channel::on_connect_frame(const mqtt::frame& f) {
  if (f.type() != mqtt::packet_type::connect) {
    closing_ = true;  // MQTT-3.1.0-1: the first packet must be CONNECT; nothing to answer
    return;
  }
  auto decoded = mqtt::decode(f.header, f.body, version_);
  if (!decoded) {
    const auto rc = mqtt::to_reason_code(decoded.error());
    bump(broker_.stats().protocol_errors);
    if (claims_v5(f.body)) {
      version_ = mqtt::protocol_version::v5;
      send(mqtt::connack{false, rc, {}});  // MQTT-3.2.2-6 and 4.13.1
    } else if (rc == mqtt::reason_code::unsupported_protocol_version ||
               rc == mqtt::reason_code::client_identifier_not_valid) {
      version_ = mqtt::protocol_version::v311;  // 3.1.1 return codes 0x01 / 0x02 (MQTT-3.1.2-2)
      send(mqtt::connack{false, rc, {}});
    }
    closing_ = true;
    return;
  }
  on_connect(std::get<mqtt::connect>(*decoded));
}

void client_channel::on_connect(mqtt::connect& c) {
  version_ = c.version;
  const auto& lim = broker_.config();
  const auto refuse = [&](mqtt::reason_code rc) {
    send(mqtt::connack{false, rc, {}});
    closing_ = true;
  };
  // Client ids end up in topics built from them, in the session store and in logs (limits.hpp).
  // 3.1.1 clients get return code 0x02 (the encoder maps 0x85 to it).
  if (c.client_id.size() > lim.max_client_id_length) return refuse(mqtt::reason_code::client_identifier_not_valid);
  if (c.will) {
    if (static_cast<std::uint8_t>(c.will->qos) > static_cast<std::uint8_t>(lim.maximum_qos))
      return refuse(mqtt::reason_code::qos_not_supported);  // MQTT-3.2.2-12
    if (c.will->retain && !lim.retain_available) return refuse(mqtt::reason_code::retain_not_supported);  // 3.2.2-13
  }
  security_ = broker_.security(listener_);
  if (!c.props.authentication_method) {
    // A dialect that decides its own CONNECTs (the IoT Hub devices) before the listener's chain.
    if (auto* hook = broker_.interceptor()) {
      if (auto d = hook->on_connect(c, peer_cert(), connection_id_)) {
        if (d->code != mqtt::reason_code::success) {
          bump(broker_.stats().auth_failures);
          if (log_)
            log_->info("client '{}' refused: {} (user '{}')", log_safe(c.client_id), d->why,
                       log_safe(c.username.value_or("")));
          return refuse(d->code);
        }
        rare().dialect = std::make_unique<connect_decision>(std::move(*d));
        return accept(c, nullptr);
      }
    }
    if (const auto rc = check_credentials(c); rc != mqtt::reason_code::success) {
      bump(broker_.stats().auth_failures);
      if (log_)
        log_->info("client '{}' refused: {} (user '{}')", log_safe(c.client_id),
                   rc == mqtt::reason_code::not_authorized ? "no username and anonymous clients not allowed"
                                                           : "bad username or password",
                   log_safe(c.username.value_or("")));
      return refuse(rc);
    }
  }
  if (c.props.authentication_method) {
    auto& r = rare();
    r.auth_method = *c.props.authentication_method;
    r.auth = broker_.authenticators().create(r.auth_method);
    if (!r.auth) {  // MQTT 4.12: unknown method
      bump(broker_.stats().auth_failures);
      if (log_)
        log_->info("client '{}' refused: unknown authentication method '{}'", log_safe(c.client_id),
                   log_safe(r.auth_method));
      return refuse(mqtt::reason_code::bad_authentication_method);
    }
    const auto step = r.auth->start(c.client_id, c.props.authentication_data);
    r.pending_connect = std::make_unique<mqtt::connect>(std::move(c));
    state_ = state::authenticating;
    return apply_auth_step(step);
  }
  accept(c, nullptr);
}

// Username/password (MQTT 3.1.3.5, 3.1.3.6): with a password file, a username must be known
// and its password right (0x86, 3.1.1: 0x04); a client without username is anonymous, allowed
// only where the listener allows it (0x87, 3.1.1: 0x05). Without a password file every client
// is anonymous, whatever username it sends (as mosquitto does).
mqtt::reason_code client_channel::check_credentials(const mqtt::connect& c) const {
  const auto& checker = security_->passwords;
  if (checker && c.username) {
    return checker->check(*c.username, c.password.value_or("")) ? mqtt::reason_code::success
                                                                : mqtt::reason_code::bad_user_name_or_password;
  }
  // A verified client certificate is a credential (docs/security.md, "Client certificates").
  if (peer_cert() && !peer_cert()->subject_cn.empty()) return mqtt::reason_code::success;
  return security_->allow_anonymous ? mqtt::reason_code::success : mqtt::reason_code::not_authorized;
}

void client_channel::apply_auth_step(const auth_step& step) {
  if (step.code == mqtt::reason_code::continue_authentication) {
    mqtt::auth a{mqtt::reason_code::continue_authentication, {}};
    a.props.authentication_method = rare_->auth_method;
    a.props.authentication_data = step.data;
    send(a);
    return;
  }
  if (step.code != mqtt::reason_code::success) {
    bump(broker_.stats().auth_failures);
    // Before CONNACK the client id is still in the CONNECT being authenticated.
    const auto& who = rare_->pending_connect ? rare_->pending_connect->client_id : id();
    if (log_)
      log_->info("client '{}' refused by {}{}: {} (0x{:02X})", log_safe(who), log_safe(rare_->auth_method),
                 state_ == state::connected ? " re-authentication" : "", step.why.empty() ? "refused" : step.why,
                 static_cast<int>(step.code));
  }
  if (state_ == state::authenticating) {
    if (step.code != mqtt::reason_code::success) {
      send(mqtt::connack{false, step.code, {}});
      closing_ = true;
      return;
    }
    auto c = std::move(*rare_->pending_connect);
    rare_->pending_connect.reset();
    return accept(c, &step);
  }
  // Re-authentication of a connected client (MQTT 4.12.1). 0x86 is no DISCONNECT reason code.
  if (step.code != mqtt::reason_code::success) {
    closing_ = true;
    return send(mqtt::disconnect{
        step.code == mqtt::reason_code::bad_user_name_or_password ? mqtt::reason_code::not_authorized : step.code, {}});
  }
  rare_->credentials_expire = step.expires_at.value_or(clock::time_point::max());
  mqtt::auth done{mqtt::reason_code::success, {}};
  done.props.authentication_method = rare_->auth_method;
  done.props.authentication_data = step.data;
  send(done);
}

void client_channel::on_auth(const mqtt::auth& a) {
  // AUTH is only valid with the method of the CONNECT (MQTT-4.12.0-1, 4.12.1-1).
  if (!auth() || a.props.authentication_method != rare_->auth_method) return fail(mqtt::reason_code::protocol_error);
  if (a.code == mqtt::reason_code::re_authenticate) {
    if (state_ != state::connected) return fail(mqtt::reason_code::protocol_error);
    return apply_auth_step(rare_->auth->start(id(), a.props.authentication_data));
  }
  if (a.code != mqtt::reason_code::continue_authentication) return fail(mqtt::reason_code::protocol_error);
  apply_auth_step(rare_->auth->next(a.props.authentication_data));
}

// The principal: a verified identity. The one the enhanced authentication method established,
// else the CONNECT's username when the password file checked it, else the verified client
// certificate's CN (a username the certificate holder merely sent proves nothing and must not
// stand in for the CN: docs/security.md, "Client certificates as identities"); attributes from
// the certificate's subject, then the method's (which win on a clash: they were checked last).
// An anonymous client keeps none: the authorizer sees one (it may name the client id), then it goes.
bool client_channel::authorize_connect(const mqtt::connect& c, const auth_step* enhanced,
                                       const std::string& client_id) {
  principal pr;
  auto* p = &pr;
  p->client_id = client_id;
  const auto* cert = peer_cert();
  const auto keep = [&] {
    if (pr.username || !pr.attributes.empty()) principal_ = std::make_shared<const principal>(std::move(pr));
  };
  const bool cert_cn = cert && !cert->subject_cn.empty();
  if (auto* d = dialect()) {  // the interceptor established who it is and what it may do
    p->username = d->username;
    if (cert) p->attributes = cert->subject;
    drop_peer_cert();
    keep();
    permissions_ = d->permissions;
    return true;
  }
  // A username is an identity only once something vouched for it: the password file, a client
  // certificate or the enhanced authentication method. Without a password file the CONNECT's
  // username is unchecked text (the client is anonymous, as in mosquitto), so a policy naming
  // usernames must never see it: anyone could claim to be anyone. Beside an enhanced method the
  // password check is skipped, so the CONNECT's username cannot override the method's user.
  const bool password_checked = security_->passwords && c.username && !enhanced;
  if (enhanced && enhanced->username) {
    p->username = enhanced->username;
  } else if (password_checked) {
    p->username = c.username;
  } else if (cert_cn) {
    p->username = cert->subject_cn;
  }
  if (cert) p->attributes = cert->subject;
  if (enhanced)
    for (const auto& [k, v] : enhanced->attributes) p->attributes.insert_or_assign(k, v);
  drop_peer_cert();
  if (security_->authz) permissions_ = security_->authz->on_connect(pr);
  keep();
  return !security_->authz || permissions_ != nullptr;
}

void client_channel::accept(mqtt::connect& c, const auth_step* enhanced) {
  const auto& lim = broker_.config();
  mqtt::properties ack_props;
  // The session keeps the id once attached; until then it is this one.
  std::string client_id = std::move(c.client_id);
  if (client_id.empty()) {
    client_id = random_client_id();
    if (v5()) ack_props.assigned_client_identifier = client_id;  // MQTT-3.2.2-16
  }
  // Taken before authorize_connect, which lets the certificate go once the principal has it.
  const std::string cert_cn = peer_cert() ? peer_cert()->subject_cn : std::string();
  if (!authorize_connect(c, enhanced, client_id)) {
    bump(broker_.stats().connect_denied);
    if (log_)
      log_->info("client '{}' refused: not authorized to connect (user '{}')", log_safe(client_id),
                 log_safe(principal_ ? principal_->username.value_or("") : std::string()));
    send(mqtt::connack{false, mqtt::reason_code::not_authorized, {}});  // 3.1.1: 0x05
    closing_ = true;
    return;
  }
  // A will goes only where the client could publish itself (docs/adr/0011): checked here, so
  // the client learns it from CONNACK rather than never.
  if (c.will && !may_publish_will(c.will->topic)) {
    bump(broker_.stats().connect_denied);
    if (log_)
      log_->info("client '{}' refused: not authorized to publish its will to '{}'", log_safe(client_id),
                 log_safe(c.will->topic));
    send(mqtt::connack{false, mqtt::reason_code::not_authorized, {}});  // 3.1.1: 0x05
    closing_ = true;
    return;
  }
  std::uint32_t expiry = 0;
  if (v5())
    expiry = std::min(c.props.session_expiry_interval.value_or(0), lim.max_session_expiry);
  else
    expiry = c.clean_start ? 0 : 0xFFFFFFFF;

  if (enhanced && enhanced->expires_at) rare().credentials_expire = *enhanced->expires_at;
  if (dialect() && dialect()->expires_at) rare().credentials_expire = *dialect()->expires_at;
  keep_alive_ = c.keep_alive;
  if (lim.max_keep_alive != 0 && (keep_alive_ == 0 || keep_alive_ > lim.max_keep_alive)) {
    keep_alive_ = lim.max_keep_alive;
    if (v5()) ack_props.server_keep_alive = keep_alive_;  // MQTT-3.2.2-21
  }
  client_receive_maximum_ = c.props.receive_maximum.value_or(65535);
  client_max_packet_size_ = c.props.maximum_packet_size.value_or(0xFFFFFFFF);
  client_topic_alias_maximum_ = v5() ? c.props.topic_alias_maximum.value_or(0) : 0;
  if (c.will) rare().will = std::make_unique<mqtt::will_message>(std::move(*c.will));

  // Cluster mode: this node becomes the client id's one owner, its session brought here first.
  if (auto* dir = broker_.directory()) {
    if (const auto claim = dir->claim(client_id, c.clean_start); claim.code != mqtt::reason_code::success) {
      if (log_) log_->warn("client '{}' refused: {}", log_safe(client_id), claim.why);
      send(mqtt::connack{false, claim.code, {}});  // 3.1.1: 0x03 server unavailable
      closing_ = true;
      return;
    }
  }
  connection_info info{.username = principal_ && principal_->username
                                       ? std::shared_ptr<const std::string>(principal_, &*principal_->username)
                                       : nullptr,
                       .connected_at_ms = static_cast<std::uint64_t>(wall_now_ms()),
                       .listener = listener_,
                       .version = version_,
                       .clean_start = c.clean_start};
  auto attached = broker_.sessions().attach(client_id, c.clean_start, expiry, self_, std::move(info));
  if (attached.taken_over) attached.taken_over->kick(mqtt::reason_code::session_taken_over);  // MQTT-3.1.4-3
  session_ = std::move(attached.s);
  state_ = state::connected;
  if (auto* dir = broker_.directory(); dir && will()) {
    std::uint32_t delay = 0;
    const auto armed = will_message(clock::now(), delay);
    dir->arm_will(id(), *armed, delay);
    will_armed_ = true;
  }
  bump(broker_.stats().connections_accepted);

  if (v5()) {
    if (lim.receive_maximum != 65535) ack_props.receive_maximum = lim.receive_maximum;
    if (lim.maximum_qos != mqtt::qos::exactly_once) ack_props.maximum_qos = static_cast<std::uint8_t>(lim.maximum_qos);
    if (!lim.retain_available) ack_props.retain_available = 0;
    ack_props.maximum_packet_size = lim.max_packet_size;
    if (lim.topic_alias_maximum) ack_props.topic_alias_maximum = lim.topic_alias_maximum;
    if (!lim.wildcard_subscription_available) ack_props.wildcard_subscription_available = 0;
    if (!lim.subscription_identifiers_available) ack_props.subscription_identifier_available = 0;
    if (!lim.shared_subscription_available) ack_props.shared_subscription_available = 0;
    if (expiry != c.props.session_expiry_interval.value_or(0)) ack_props.session_expiry_interval = expiry;
    // MQTT 4.10.2; optional, so left out when prefix + client id would not fit a string field
    // (a refused CONNACK would end the connection).
    if (c.props.request_response_information == 1 && !lim.response_information_prefix.empty() &&
        lim.response_information_prefix.size() + id().size() <= mqtt::max_field_length)
      ack_props.response_information = lim.response_information_prefix + id();
    if (auth()) {
      ack_props.authentication_method = rare_->auth_method;
      if (enhanced) ack_props.authentication_data = enhanced->data;
    }
  }
  send(mqtt::connack{attached.session_present, mqtt::reason_code::success, std::move(ack_props)});
  // One line per connection at info (docs/operations.md, "Logs"); a certificate identity says
  // which certificate let the client in.
  if (log_) {
    const auto user =
        log_safe(principal_ && principal_->username ? std::string_view(*principal_->username) : std::string_view());
    const std::string who =
        cert_cn.empty() ? fmt::format("user '{}'", user)
                        : fmt::format("with TLS client certificate CN '{}' as user '{}'", log_safe(cert_cn), user);
    log_->info("client '{}' connected from {} (MQTT {}, {}, listener {}, clean start {}, session present {})",
               log_safe(id()), peer_address_, v5() ? "5" : "3.1.1", who,
               listener_name_ ? *listener_name_ : std::to_string(listener_), c.clean_start, attached.session_present);
  }
  if (attached.session_present) {
    if (permissions_) drop_unauthorized_subscriptions();
    resend_inflight();
  }
  if (dialect()) {
    rare_->dialect.reset();
    if (auto* hook = broker_.interceptor()) hook->on_connected(id(), connection_id_);
  }
  std::string listener;
  broker_.events().connected(event_self(listener), c.clean_start, attached.session_present);
  pull();
}

}  // namespace edgemq::broker
