// decode(encode(p)) == p for packets of every type in both protocol versions, plus the
// encoding helpers (varints, encoded_size, encode_publish_head) and the error plumbing.
#include <cstdint>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include <gtest/gtest.h>

#include "mqtt_test_util.hpp"

namespace mqtt_test {
namespace {

constexpr auto V311 = protocol_version::v311;
constexpr auto V5 = protocol_version::v5;

// ------------------------------------------------------------------ packets valid in 3.1.1

std::vector<packet> v311_packets() {
  std::vector<packet> out;
  {
    connect c;
    c.version = V311;
    c.client_id = "client-1";
    out.push_back(c);
    c.clean_start = false;
    c.keep_alive = 65535;
    c.username = "";
    c.password = std::string("\x00\xFF", 2);
    out.push_back(c);
    will_message w;
    w.topic = "last/will";
    w.payload = std::string(300, 'w');
    w.qos = qos::exactly_once;
    c.will = w;
    out.push_back(c);
  }
  for (auto code :
       {reason_code::success, reason_code::unsupported_protocol_version, reason_code::client_identifier_not_valid,
        reason_code::server_unavailable, reason_code::bad_user_name_or_password, reason_code::not_authorized}) {
    connack a;
    a.code = code;
    out.push_back(a);
  }
  {
    connack a;
    a.session_present = true;
    out.push_back(a);
  }
  {
    publish p;
    p.topic = "a/b/c";
    out.push_back(p);
    p.payload = std::string(20000, '\0');  // three-byte remaining length
    out.push_back(p);
    p.qos = qos::at_least_once;
    p.packet_id = 1;
    p.dup = true;
    p.retain = true;
    out.push_back(p);
    p.qos = qos::exactly_once;
    p.packet_id = 65535;
    p.dup = false;
    p.payload = "x";
    out.push_back(p);
  }
  {
    puback a;
    a.packet_id = 1;
    out.push_back(a);
    pubrec b;
    b.packet_id = 2;
    out.push_back(b);
    pubrel c;
    c.packet_id = 3;
    out.push_back(c);
    pubcomp d;
    d.packet_id = 65535;
    out.push_back(d);
  }
  {
    subscribe s;
    s.packet_id = 42;
    for (int q = 0; q < 3; ++q) {
      subscription e;
      e.filter = "f/" + std::to_string(q) + "/+";
      e.options.qos = static_cast<qos>(q);
      s.entries.push_back(e);
    }
    out.push_back(s);
  }
  {
    suback a;
    a.packet_id = 42;
    a.codes = {reason_code::granted_qos_2, reason_code::unspecified_error, reason_code::granted_qos_0};
    out.push_back(a);
  }
  {
    unsubscribe u;
    u.packet_id = 43;
    u.filters = {"#", "a/+/b", "$SYS/#"};
    out.push_back(u);
    unsuback a;
    a.packet_id = 43;
    out.push_back(a);
  }
  out.push_back(pingreq{});
  out.push_back(pingresp{});
  out.push_back(disconnect{});
  return out;
}

TEST(RoundTripV311, AllPacketTypes) {
  auto packets = v311_packets();
  ASSERT_EQ(packets.size(), 25u);
  for (std::size_t i = 0; i < packets.size(); ++i) {
    SCOPED_TRACE(::testing::Message() << "packet #" << i << " " << to_string(type_of(packets[i])));
    check_round_trip(packets[i], V311);
  }
}

// ------------------------------------------------------------------ packets valid in 5

std::vector<packet> v5_packets() {
  std::vector<packet> out;
  {
    connect c;
    c.version = V5;
    c.client_id = "";
    out.push_back(c);
    c.client_id = "c";
    c.clean_start = false;
    c.props.session_expiry_interval = 0xFFFFFFFF;
    c.props.receive_maximum = 65535;
    c.props.maximum_packet_size = 268435460;
    c.props.topic_alias_maximum = 0;
    c.props.request_response_information = 0;
    c.props.request_problem_information = 1;
    c.props.user_properties = {{"z", "1"}, {"a", "2"}, {"z", "3"}};
    out.push_back(c);
    will_message w;
    w.topic = "w";
    w.payload = "";
    w.retain = true;
    w.qos = qos::exactly_once;
    w.props.will_delay_interval = 0;
    w.props.payload_format_indicator = 0;
    c.will = w;
    c.username = "u";
    out.push_back(c);
    c.username.reset();
    c.password = "only-password";
    out.push_back(c);
  }
  {
    connack a;
    out.push_back(a);
    a.session_present = true;
    a.props.topic_alias_maximum = 10;
    a.props.server_keep_alive = 0;
    a.props.authentication_method = "m";
    a.props.authentication_data = std::string("\x00", 1);
    a.props.reason_string = "welcome";
    a.props.retain_available = 1;
    a.props.maximum_qos = 0;
    out.push_back(a);
  }
  for (auto code : {reason_code::unspecified_error, reason_code::malformed_packet, reason_code::protocol_error,
                    reason_code::bad_authentication_method, reason_code::server_moved,
                    reason_code::connection_rate_exceeded, reason_code::qos_not_supported}) {
    connack a;
    a.code = code;
    out.push_back(a);
  }
  {
    publish p;
    p.topic = "a";
    out.push_back(p);
    p.qos = qos::at_least_once;
    p.packet_id = 9;
    p.payload = std::string(200, 'p');
    p.props.message_expiry_interval = 0;
    p.props.topic_alias = 65535;
    p.props.subscription_identifiers = {1, 127, 128, 16383, 16384, 268435455};
    out.push_back(p);
    p.topic = "";
    p.dup = true;
    p.props.response_topic = "resp/x";
    p.props.correlation_data = "";
    p.props.content_type = "";
    out.push_back(p);
  }
  for (auto code :
       {reason_code::success, reason_code::no_matching_subscribers, reason_code::unspecified_error,
        reason_code::implementation_specific_error, reason_code::not_authorized, reason_code::topic_name_invalid,
        reason_code::packet_identifier_in_use, reason_code::quota_exceeded, reason_code::payload_format_invalid}) {
    puback a;
    a.packet_id = 100;
    a.code = code;
    out.push_back(a);
    pubrec b;
    b.packet_id = 101;
    b.code = code;
    b.props.reason_string = "why";
    out.push_back(b);
  }
  for (auto code : {reason_code::success, reason_code::packet_identifier_not_found}) {
    pubrel a;
    a.packet_id = 200;
    a.code = code;
    out.push_back(a);
    pubcomp b;
    b.packet_id = 201;
    b.code = code;
    b.props.user_properties = {{"k", ""}};
    out.push_back(b);
  }
  {
    subscribe s;
    s.packet_id = 1;
    for (int rh = 0; rh < 3; ++rh) {
      for (int q = 0; q < 3; ++q) {
        subscription e;
        e.filter = "t/" + std::to_string(rh) + "/" + std::to_string(q);
        e.options.qos = static_cast<qos>(q);
        e.options.retain_handling = static_cast<retain_handling>(rh);
        e.options.no_local = (q == 1);
        e.options.retain_as_published = (rh == 1);
        s.entries.push_back(e);
      }
    }
    s.props.subscription_identifiers = {268435455};
    out.push_back(s);
  }
  {
    suback a;
    a.packet_id = 1;
    a.codes = {reason_code::granted_qos_0,
               reason_code::granted_qos_1,
               reason_code::granted_qos_2,
               reason_code::unspecified_error,
               reason_code::implementation_specific_error,
               reason_code::not_authorized,
               reason_code::topic_filter_invalid,
               reason_code::packet_identifier_in_use,
               reason_code::quota_exceeded,
               reason_code::shared_subscriptions_not_supported,
               reason_code::subscription_identifiers_not_supported,
               reason_code::wildcard_subscriptions_not_supported};
    a.props.user_properties = {{"a", "b"}};
    out.push_back(a);
  }
  {
    unsubscribe u;
    u.packet_id = 2;
    u.filters = {"$share/g/a", "#"};
    out.push_back(u);
    unsuback a;
    a.packet_id = 2;
    a.codes = {reason_code::success,
               reason_code::no_subscription_existed,
               reason_code::unspecified_error,
               reason_code::implementation_specific_error,
               reason_code::not_authorized,
               reason_code::topic_filter_invalid,
               reason_code::packet_identifier_in_use};
    a.props.reason_string = "done";
    out.push_back(a);
  }
  out.push_back(pingreq{});
  out.push_back(pingresp{});
  for (auto code : {reason_code::normal_disconnection, reason_code::disconnect_with_will,
                    reason_code::unspecified_error, reason_code::malformed_packet, reason_code::protocol_error,
                    reason_code::server_busy, reason_code::server_shutting_down, reason_code::keep_alive_timeout,
                    reason_code::session_taken_over, reason_code::topic_alias_invalid, reason_code::packet_too_large,
                    reason_code::message_rate_too_high, reason_code::administrative_action,
                    reason_code::maximum_connect_time, reason_code::wildcard_subscriptions_not_supported}) {
    disconnect d;
    d.code = code;
    out.push_back(d);
  }
  {
    disconnect d;
    d.props.user_properties = {{"u", "v"}};
    out.push_back(d);
    d.props.session_expiry_interval = 7;
    d.props.server_reference = "srv";
    d.props.reason_string = "r";
    out.push_back(d);
  }
  for (auto code : {reason_code::success, reason_code::continue_authentication, reason_code::re_authenticate}) {
    auth a;
    a.code = code;
    out.push_back(a);
    a.props.authentication_method = "SCRAM-SHA-1";
    a.props.authentication_data = std::string("\x00\x01\x02", 3);
    a.props.reason_string = "step";
    a.props.user_properties = {{"k", "v"}, {"k", "w"}};
    out.push_back(a);
  }
  return out;
}

TEST(RoundTripV5, AllPacketTypes) {
  auto packets = v5_packets();
  for (std::size_t i = 0; i < packets.size(); ++i) {
    SCOPED_TRACE(::testing::Message() << "packet #" << i << " " << to_string(type_of(packets[i])));
    check_round_trip(packets[i], V5);
  }
}

TEST(RoundTripV5, CoversEveryPacketType) {
  bool seen[16] = {};
  for (const auto& p : v5_packets()) seen[static_cast<int>(type_of(p))] = true;
  for (int t = 1; t <= 15; ++t) EXPECT_TRUE(seen[t]) << "packet type " << t;
}

TEST(RoundTripV5, EncodeAppendsToExistingOutput) {
  std::string out = "prefix";
  encode(pingreq{}, V5, out);
  EXPECT_EQ(out, std::string("prefix\xC0\x00", 8));
}

// ------------------------------------------------------------------ type_of

TEST(TypeOf, EveryAlternative) {
  EXPECT_EQ(type_of(connect{}), packet_type::connect);
  EXPECT_EQ(type_of(connack{}), packet_type::connack);
  EXPECT_EQ(type_of(publish{}), packet_type::publish);
  EXPECT_EQ(type_of(puback{}), packet_type::puback);
  EXPECT_EQ(type_of(pubrec{}), packet_type::pubrec);
  EXPECT_EQ(type_of(pubrel{}), packet_type::pubrel);
  EXPECT_EQ(type_of(pubcomp{}), packet_type::pubcomp);
  EXPECT_EQ(type_of(subscribe{}), packet_type::subscribe);
  EXPECT_EQ(type_of(suback{}), packet_type::suback);
  EXPECT_EQ(type_of(unsubscribe{}), packet_type::unsubscribe);
  EXPECT_EQ(type_of(unsuback{}), packet_type::unsuback);
  EXPECT_EQ(type_of(pingreq{}), packet_type::pingreq);
  EXPECT_EQ(type_of(pingresp{}), packet_type::pingresp);
  EXPECT_EQ(type_of(disconnect{}), packet_type::disconnect);
  EXPECT_EQ(type_of(auth{}), packet_type::auth);
}

// ------------------------------------------------------------------ varints

TEST(Varint, SpecBoundaries) {
  struct c {
    std::uint32_t value;
    bytes wire;
  };
  const c cases[] = {
      {0, hexv({0x00})},
      {1, hexv({0x01})},
      {127, hexv({0x7F})},
      {128, hexv({0x80, 0x01})},
      {321, hexv({0xC1, 0x02})},
      {16383, hexv({0xFF, 0x7F})},
      {16384, hexv({0x80, 0x80, 0x01})},
      {2097151, hexv({0xFF, 0xFF, 0x7F})},
      {2097152, hexv({0x80, 0x80, 0x80, 0x01})},
      {268435455, hexv({0xFF, 0xFF, 0xFF, 0x7F})},
  };
  for (const auto& x : cases) {
    std::string out;
    write_varint(x.value, out);
    EXPECT_EQ(hex(out), hex(x.wire)) << x.value;
    EXPECT_EQ(varint_size(x.value), x.wire.size()) << x.value;
  }
}

TEST(Varint, WriteAppends) {
  std::string out = "x";
  write_varint(128, out);
  EXPECT_EQ(out, std::string("x\x80\x01", 3));
}

// ------------------------------------------------------------------ encoded_size / encode_publish_head

std::vector<publish> sized_publishes() {
  std::vector<publish> out;
  publish p;
  p.topic = "a/b";
  out.push_back(p);
  p.payload = std::string(120, 'x');  // remaining length just below / above 127
  out.push_back(p);
  p.payload = std::string(125, 'x');
  out.push_back(p);
  p.qos = qos::at_least_once;
  p.packet_id = 5;
  p.retain = true;
  p.payload = std::string(20000, 'y');
  out.push_back(p);
  p.dup = true;
  p.props.user_properties = {{"k", "v"}};
  p.props.message_expiry_interval = 5;
  p.props.content_type = "text";
  out.push_back(p);
  p.payload = std::string(2100000, 'z');  // four-byte remaining length
  out.push_back(p);
  return out;
}

publish_head head_of(const publish& p, std::span<const std::uint32_t> ids = {}) {
  publish_head h;
  h.topic = p.topic;
  h.qos = p.qos;
  h.retain = p.retain;
  h.dup = p.dup;
  h.packet_id = p.packet_id;
  h.props = &p.props;
  h.subscription_ids = ids;
  h.payload_size = p.payload.size();
  return h;
}

TEST(EncodePublishHead, HeadPlusPayloadEqualsFullEncoding) {
  for (auto v : {V311, V5}) {
    for (const auto& p : sized_publishes()) {
      SCOPED_TRACE(::testing::Message() << "version " << static_cast<int>(v) << " payload " << p.payload.size());
      std::string full;
      encode(p, v, full);
      std::string head;
      encode_publish_head(head_of(p), v, head);
      EXPECT_EQ(head.size() + p.payload.size(), full.size());
      EXPECT_TRUE(full.compare(0, head.size(), head) == 0) << "head is not a prefix of the full encoding";
      EXPECT_EQ(encoded_size(head_of(p), v).value(), full.size());
    }
  }
}

TEST(EncodePublishHead, EncodeAppends) {
  publish p;
  p.topic = "t";
  std::string out = "ab";
  encode_publish_head(head_of(p), V5, out);
  EXPECT_EQ(hex(out), hex(hexv({0x61, 0x62, 0x30, 0x04, 0x00, 0x01, 0x74, 0x00})));
}

TEST(EncodePublishHead, GoldenHeadWithoutProperties) {
  publish_head h;
  h.topic = "a/b";
  h.qos = qos::at_least_once;
  h.packet_id = 10;
  h.props = nullptr;
  h.payload_size = 200;
  std::string head;
  // remaining length 5 + 2 + 1 + 200 = 208 = D0 01
  encode_publish_head(h, V5, head);
  EXPECT_EQ(hex(head), hex(hexv({0x32, 0xD0, 0x01, 0x00, 0x03, 0x61, 0x2F, 0x62, 0x00, 0x0A, 0x00})));
  EXPECT_EQ(encoded_size(h, V5).value(), head.size() + 200);

  std::string head311;
  // remaining length 5 + 2 + 200 = 207 = CF 01
  encode_publish_head(h, V311, head311);
  EXPECT_EQ(hex(head311), hex(hexv({0x32, 0xCF, 0x01, 0x00, 0x03, 0x61, 0x2F, 0x62, 0x00, 0x0A})));
  EXPECT_EQ(encoded_size(h, V311).value(), head311.size() + 200);
}

TEST(EncodePublishHead, SubscriptionIdsAreAppendedAfterMessageProperties) {
  properties pr;
  pr.user_properties = {{"k", "v"}};
  const std::uint32_t ids[] = {2};
  publish_head h;
  h.topic = "a/b";
  h.qos = qos::at_least_once;
  h.packet_id = 10;
  h.props = &pr;
  h.subscription_ids = ids;
  h.payload_size = 3;
  std::string head;
  encode_publish_head(h, V5, head);
  EXPECT_EQ(hex(head), hex(hexv({0x32, 0x14, 0x00, 0x03, 0x61, 0x2F, 0x62, 0x00, 0x0A,
                                 0x09,                                      // property length 9
                                 0x26, 0x00, 0x01, 0x6B, 0x00, 0x01, 0x76,  // user property k=v
                                 0x0B, 0x02})));                            // subscription id 2
  EXPECT_EQ(encoded_size(h, V5).value(), head.size() + 3);
}

TEST(EncodePublishHead, SubscriptionIdsDecodeBack) {
  for (const auto& p : sized_publishes()) {
    SCOPED_TRACE(::testing::Message() << "payload " << p.payload.size());
    const std::uint32_t ids[] = {1, 300, 268435455};
    std::string wire;
    encode_publish_head(head_of(p, ids), V5, wire);
    wire += p.payload;
    publish expected = p;
    expected.props.subscription_identifiers = {1, 300, 268435455};
    EXPECT_EQ(encoded_size(head_of(p, ids), V5).value(), wire.size());
    check_decodes_to(bytes(wire.begin(), wire.end()), V5, expected);

    // 3.1.1 has no properties: the subscription ids (and the properties) are dropped.
    std::string wire311;
    encode_publish_head(head_of(p, ids), V311, wire311);
    wire311 += p.payload;
    publish expected311 = p;
    expected311.props = {};
    EXPECT_EQ(encoded_size(head_of(p, ids), V311).value(), wire311.size());
    check_decodes_to(bytes(wire311.begin(), wire311.end()), V311, expected311);
  }
}

// ------------------------------------------------------------------ error plumbing

TEST(Errors, ReasonCodeRoundTripsThroughErrorCode) {
  for (auto rc : {reason_code::malformed_packet, reason_code::protocol_error, reason_code::topic_name_invalid,
                  reason_code::topic_filter_invalid, reason_code::packet_too_large,
                  reason_code::unsupported_protocol_version, reason_code::topic_alias_invalid}) {
    std::error_code ec = make_error_code(rc);
    EXPECT_EQ(&ec.category(), &reason_category());
    EXPECT_EQ(ec.value(), static_cast<int>(rc));
    EXPECT_EQ(to_reason_code(ec), rc);
    EXPECT_FALSE(ec.message().empty());
  }
  std::error_code implicit = reason_code::protocol_error;  // is_error_code_enum
  EXPECT_EQ(to_reason_code(implicit), reason_code::protocol_error);
}

TEST(Errors, ForeignErrorMapsToUnspecified) {
  EXPECT_EQ(to_reason_code(std::make_error_code(std::errc::connection_reset)), reason_code::unspecified_error);
}

TEST(Errors, IsErrorThreshold) {
  EXPECT_FALSE(is_error(reason_code::success));
  EXPECT_FALSE(is_error(reason_code::re_authenticate));
  EXPECT_TRUE(is_error(reason_code::unspecified_error));
  EXPECT_TRUE(is_error(reason_code::wildcard_subscriptions_not_supported));
}

TEST(Errors, ToStringNeverEmpty) {
  for (int v = 0; v < 256; ++v) EXPECT_FALSE(to_string(static_cast<reason_code>(v)).empty()) << v;
  for (int t = 0; t < 16; ++t) EXPECT_FALSE(to_string(static_cast<packet_type>(t)).empty()) << t;
  EXPECT_NE(to_string(reason_code::malformed_packet), to_string(reason_code::protocol_error));
}

// The hot path decodes every PUBLISH into one reused value: properties of one packet must not
// leak into the next, and `props_set` must say whether any are there.
TEST(DecodePublishReuse, PropertiesOfOnePacketDoNotLeakIntoTheNext) {
  publish with;
  with.topic = "a/b";
  with.payload = "x";
  with.props.content_type = "text/plain";
  with.props.user_properties = {{"k", "v"}};
  publish without;
  without.topic = "c";
  without.payload = "yz";
  for (auto v : {V5, V311}) {
    SCOPED_TRACE(static_cast<int>(v));
    publish scratch;
    bool props_set = false;
    for (int round = 0; round < 2; ++round) {
      for (const publish* p : {&with, &without}) {
        const bytes wire = encode_bytes(*p, v);
        const frame_result f = parse_frame(wire, k_no_limit);
        ASSERT_EQ(f.status, frame_status::complete);
        ASSERT_EQ(decode_publish(f.value.header, f.value.body, v, scratch, props_set), reason_code::success);
        EXPECT_EQ(scratch.topic, p->topic);
        EXPECT_EQ(scratch.payload, p->payload);
        const bool expect_props = v == V5 && p == &with;
        EXPECT_EQ(props_set, expect_props);
        EXPECT_EQ(scratch.props, expect_props ? with.props : properties{});
      }
    }
  }
}

// The acknowledgement hot path must agree byte for byte with the general codec, and leave
// everything it does not handle (properties, bad flags, id 0, invalid reason) to decode().
template <class Ack>
void check_plain_ack_agrees(protocol_version v, reason_code code) {
  const Ack a{0x1234, code, {}};
  std::string general;
  encode(packet{a}, v, general);
  std::string plain;
  encode_plain_ack(Ack::type, a.packet_id, code, v, plain);
  EXPECT_EQ(hex(plain), hex(general));
  const bytes wire(general.begin(), general.end());
  const frame_result f = parse_frame(wire, k_no_limit);
  ASSERT_EQ(f.status, frame_status::complete);
  std::uint16_t id = 0;
  reason_code rc{};
  ASSERT_TRUE(decode_plain_ack(f.value.header, f.value.body, v, id, rc));
  auto decoded = decode(f.value.header, f.value.body, v);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(id, std::get<Ack>(*decoded).packet_id);
  EXPECT_EQ(rc, std::get<Ack>(*decoded).code);
}

TEST(PlainAck, AgreesWithTheGeneralCodec) {
  for (auto v : {V5, V311}) {
    SCOPED_TRACE(static_cast<int>(v));
    check_plain_ack_agrees<puback>(v, reason_code::success);
    check_plain_ack_agrees<pubrec>(v, reason_code::success);
    check_plain_ack_agrees<pubrel>(v, reason_code::success);
    check_plain_ack_agrees<pubcomp>(v, reason_code::success);
  }
  check_plain_ack_agrees<puback>(V5, reason_code::no_matching_subscribers);
  check_plain_ack_agrees<pubrec>(V5, reason_code::payload_format_invalid);
  check_plain_ack_agrees<pubrel>(V5, reason_code::packet_identifier_not_found);
  check_plain_ack_agrees<pubcomp>(V5, reason_code::packet_identifier_not_found);
}

TEST(PlainAck, LeavesEverythingElseToDecode) {
  std::uint16_t id = 0;
  reason_code rc{};
  const auto plain = [&](std::uint8_t header, bytes body, protocol_version v = V5) {
    return decode_plain_ack(header, body, v, id, rc);
  };
  EXPECT_TRUE(plain(0x40, {0x00, 0x01}));
  EXPECT_TRUE(plain(0x40, {0x00, 0x01, 0x10, 0x00}));                     // empty property length
  EXPECT_FALSE(plain(0x40, {0x00, 0x01, 0x10, 0x03, 0x1F, 0x00, 0x00}));  // a reason string
  EXPECT_FALSE(plain(0x40, {0x00, 0x00}));                                // packet id 0: protocol error
  EXPECT_FALSE(plain(0x41, {0x00, 0x01}));                                // reserved flags set
  EXPECT_FALSE(plain(0x60, {0x00, 0x01}));                                // PUBREL needs flags 0010
  EXPECT_TRUE(plain(0x62, {0x00, 0x01}));
  EXPECT_FALSE(plain(0x40, {0x00, 0x01, 0x02}));        // 0x02 is no PUBACK reason code
  EXPECT_FALSE(plain(0x40, {0x00, 0x01, 0x00}, V311));  // 3.1.1 has no reason code
  EXPECT_FALSE(plain(0x30, {0x00, 0x01}));              // not an acknowledgement
}

}  // namespace
}  // namespace mqtt_test
