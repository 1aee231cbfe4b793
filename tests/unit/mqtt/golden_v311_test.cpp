// Golden bytes for MQTT 3.1.1 (OASIS MQTT Version 3.1.1, section 3), written by hand.
#include <string>

#include <gtest/gtest.h>

#include "mqtt_test_util.hpp"

namespace mqtt_test {
namespace {

constexpr auto V311 = protocol_version::v311;

// ---------------------------------------------------------------- CONNECT (3.1)

TEST(GoldenV311, ConnectMinimal) {
  connect c;
  c.version = V311;
  c.clean_start = true;
  c.keep_alive = 60;
  c.client_id = "abc";
  check_golden(c, V311,
               hexv({0x10, 0x0F,                          // CONNECT, remaining length 15
                     0x00, 0x04, 0x4D, 0x51, 0x54, 0x54,  // "MQTT"
                     0x04,                                // protocol level 4
                     0x02,                                // clean session
                     0x00, 0x3C,                          // keep alive 60
                     0x00, 0x03, 0x61, 0x62, 0x63}));     // client id "abc"
}

TEST(GoldenV311, ConnectWithWillUsernamePassword) {
  connect c;
  c.version = V311;
  c.clean_start = false;
  c.keep_alive = 30;
  c.client_id = "cid";
  will_message w;
  w.topic = "w/t";
  w.payload = "bye";
  w.qos = qos::at_least_once;
  w.retain = true;
  c.will = w;
  c.username = "user";
  c.password = "pass";
  check_golden(c, V311, hexv({0x10, 0x25,                                // remaining length 37
                              0x00, 0x04, 0x4D, 0x51, 0x54, 0x54, 0x04,  // "MQTT" level 4
                              0xEC,                          // user | password | will retain | will QoS 1 | will flag
                              0x00, 0x1E,                    // keep alive 30
                              0x00, 0x03, 0x63, 0x69, 0x64,  // client id "cid"
                              0x00, 0x03, 0x77, 0x2F, 0x74,  // will topic "w/t"
                              0x00, 0x03, 0x62, 0x79, 0x65,  // will payload "bye"
                              0x00, 0x04, 0x75, 0x73, 0x65, 0x72,     // user name "user"
                              0x00, 0x04, 0x70, 0x61, 0x73, 0x73}));  // password "pass"
}

TEST(GoldenV311, ConnectWillQos2NoRetainUsernameOnly) {
  connect c;
  c.version = V311;
  c.clean_start = true;
  c.keep_alive = 0;
  c.client_id = "";
  will_message w;
  w.topic = "a";
  w.payload = std::string("\x00\xFF", 2);
  w.qos = qos::exactly_once;
  c.will = w;
  c.username = "u";
  check_golden(c, V311, hexv({0x10, 0x16,  // remaining length 22
                              0x00, 0x04, 0x4D, 0x51, 0x54, 0x54, 0x04,
                              0x96,                    // user | will QoS 2 | will flag | clean session
                              0x00, 0x00,              // keep alive 0
                              0x00, 0x00,              // empty client id
                              0x00, 0x01, 0x61,        // will topic "a"
                              0x00, 0x02, 0x00, 0xFF,  // will payload (binary)
                              0x00, 0x01, 0x75}));     // user name "u"
}

// ---------------------------------------------------------------- CONNACK (3.2)

TEST(GoldenV311, ConnackSessionPresentAccepted) {
  connack a;
  a.session_present = true;
  a.code = reason_code::success;
  check_golden(a, V311, hexv({0x20, 0x02, 0x01, 0x00}));
}

TEST(GoldenV311, ConnackReturnCodesMapBothWays) {
  struct mapping {
    reason_code code;
    int wire;
  };
  const mapping table[] = {
      {reason_code::success, 0x00},
      {reason_code::unsupported_protocol_version, 0x01},
      {reason_code::client_identifier_not_valid, 0x02},
      {reason_code::server_unavailable, 0x03},
      {reason_code::bad_user_name_or_password, 0x04},
      {reason_code::not_authorized, 0x05},
  };
  for (const auto& m : table) {
    SCOPED_TRACE(m.wire);
    connack a;
    a.session_present = false;
    a.code = m.code;
    check_golden(a, V311, hexv({0x20, 0x02, 0x00, m.wire}));
  }
}

// ---------------------------------------------------------------- PUBLISH (3.3)

TEST(GoldenV311, PublishQos0) {
  publish p;
  p.topic = "a/b";
  p.payload = "hi";
  check_golden(p, V311, hexv({0x30, 0x07, 0x00, 0x03, 0x61, 0x2F, 0x62, 0x68, 0x69}));
}

TEST(GoldenV311, PublishQos1DupRetain) {
  publish p;
  p.topic = "a/b";
  p.payload = "hello";
  p.qos = qos::at_least_once;
  p.retain = true;
  p.dup = true;
  p.packet_id = 10;
  check_golden(p, V311,
               hexv({0x3B, 0x0C,                       // PUBLISH DUP | QoS 1 | RETAIN
                     0x00, 0x03, 0x61, 0x2F, 0x62,     // topic "a/b"
                     0x00, 0x0A,                       // packet id 10
                     0x68, 0x65, 0x6C, 0x6C, 0x6F}));  // "hello"
}

TEST(GoldenV311, PublishQos2EmptyPayload) {
  publish p;
  p.topic = "a/b";
  p.qos = qos::exactly_once;
  p.packet_id = 0xFFFF;
  check_golden(p, V311, hexv({0x34, 0x07, 0x00, 0x03, 0x61, 0x2F, 0x62, 0xFF, 0xFF}));
}

TEST(GoldenV311, PublishTwoByteRemainingLength) {
  publish p;
  p.topic = "t";
  p.payload = std::string(200, 'x');
  // remaining length 3 + 200 = 203 = 0xCB 0x01 as a variable byte integer
  bytes wire = hexv({0x30, 0xCB, 0x01, 0x00, 0x01, 0x74});
  wire.insert(wire.end(), 200, static_cast<std::uint8_t>('x'));
  check_golden(p, V311, wire);
}

// ---------------------------------------------------------------- PUBACK .. PUBCOMP (3.4 - 3.7)

TEST(GoldenV311, Puback) {
  puback a;
  a.packet_id = 10;
  check_golden(a, V311, hexv({0x40, 0x02, 0x00, 0x0A}));
}

TEST(GoldenV311, Pubrec) {
  pubrec a;
  a.packet_id = 0x1234;
  check_golden(a, V311, hexv({0x50, 0x02, 0x12, 0x34}));
}

TEST(GoldenV311, PubrelHasFlags0010) {
  pubrel a;
  a.packet_id = 10;
  check_golden(a, V311, hexv({0x62, 0x02, 0x00, 0x0A}));
}

TEST(GoldenV311, Pubcomp) {
  pubcomp a;
  a.packet_id = 0xFFFF;
  check_golden(a, V311, hexv({0x70, 0x02, 0xFF, 0xFF}));
}

// ---------------------------------------------------------------- SUBSCRIBE / SUBACK (3.8, 3.9)

TEST(GoldenV311, Subscribe) {
  subscribe s;
  s.packet_id = 1;
  subscription e1;
  e1.filter = "a/+";
  e1.options.qos = qos::at_least_once;
  subscription e2;
  e2.filter = "#";
  e2.options.qos = qos::exactly_once;
  s.entries = {e1, e2};
  check_golden(s, V311,
               hexv({0x82, 0x0C,                          // SUBSCRIBE, flags 0010
                     0x00, 0x01,                          // packet id 1
                     0x00, 0x03, 0x61, 0x2F, 0x2B, 0x01,  // "a/+" QoS 1
                     0x00, 0x01, 0x23, 0x02}));           // "#" QoS 2
}

TEST(GoldenV311, Suback) {
  suback a;
  a.packet_id = 1;
  a.codes = {reason_code::granted_qos_0, reason_code::granted_qos_1, reason_code::granted_qos_2,
             reason_code::unspecified_error};
  check_golden(a, V311, hexv({0x90, 0x06, 0x00, 0x01, 0x00, 0x01, 0x02, 0x80}));
}

TEST(GoldenV311, SubackErrorCodesEncodeAs0x80) {
  suback a;
  a.packet_id = 7;
  a.codes = {reason_code::not_authorized, reason_code::topic_filter_invalid, reason_code::quota_exceeded,
             reason_code::granted_qos_1};
  EXPECT_EQ(hex(encode_bytes(a, V311)), hex(hexv({0x90, 0x06, 0x00, 0x07, 0x80, 0x80, 0x80, 0x01})));

  suback expected;
  expected.packet_id = 7;
  expected.codes = {reason_code::unspecified_error, reason_code::unspecified_error, reason_code::unspecified_error,
                    reason_code::granted_qos_1};
  check_decodes_to(hexv({0x90, 0x06, 0x00, 0x07, 0x80, 0x80, 0x80, 0x01}), V311, expected);
}

// ---------------------------------------------------------------- UNSUBSCRIBE / UNSUBACK (3.10, 3.11)

TEST(GoldenV311, Unsubscribe) {
  unsubscribe u;
  u.packet_id = 2;
  u.filters = {"a/b", "c"};
  check_golden(u, V311,
               hexv({0xA2, 0x0A, 0x00, 0x02,        // UNSUBSCRIBE, flags 0010, packet id 2
                     0x00, 0x03, 0x61, 0x2F, 0x62,  // "a/b"
                     0x00, 0x01, 0x63}));           // "c"
}

TEST(GoldenV311, UnsubackHasNoPayload) {
  unsuback a;
  a.packet_id = 2;
  check_golden(a, V311, hexv({0xB0, 0x02, 0x00, 0x02}));
}

TEST(GoldenV311, UnsubackCodesAreDroppedOnEncode) {
  unsuback a;
  a.packet_id = 2;
  a.codes = {reason_code::success, reason_code::no_subscription_existed};
  EXPECT_EQ(hex(encode_bytes(a, V311)), hex(hexv({0xB0, 0x02, 0x00, 0x02})));
}

// ---------------------------------------------------------------- PINGREQ / PINGRESP / DISCONNECT

TEST(GoldenV311, Pingreq) {
  check_golden(pingreq{}, V311, hexv({0xC0, 0x00}));
}

TEST(GoldenV311, Pingresp) {
  check_golden(pingresp{}, V311, hexv({0xD0, 0x00}));
}

TEST(GoldenV311, Disconnect) {
  check_golden(disconnect{}, V311, hexv({0xE0, 0x00}));
}

TEST(GoldenV311, DisconnectReasonAndPropertiesAreDropped) {
  disconnect d;
  d.code = reason_code::disconnect_with_will;
  d.props.reason_string = "bye";
  EXPECT_EQ(hex(encode_bytes(d, V311)), hex(hexv({0xE0, 0x00})));
}

// ---------------------------------------------------------------- version-specific dropping

TEST(GoldenV311, PublishPropertiesAreDropped) {
  publish p;
  p.topic = "a/b";
  p.payload = "hi";
  p.props.message_expiry_interval = 10;
  p.props.user_properties = {{"k", "v"}};
  EXPECT_EQ(hex(encode_bytes(p, V311)), hex(hexv({0x30, 0x07, 0x00, 0x03, 0x61, 0x2F, 0x62, 0x68, 0x69})));
}

TEST(GoldenV311, AckReasonCodeIsDropped) {
  puback a;
  a.packet_id = 10;
  a.code = reason_code::no_matching_subscribers;
  a.props.reason_string = "x";
  EXPECT_EQ(hex(encode_bytes(a, V311)), hex(hexv({0x40, 0x02, 0x00, 0x0A})));
}

TEST(GoldenV311, ConnectDecodesAsV311WhateverVersionIsPassed) {
  // CONNECT determines the protocol version itself.
  connect c;
  c.version = V311;
  c.keep_alive = 60;
  c.client_id = "abc";
  check_decodes_to(
      hexv({0x10, 0x0F, 0x00, 0x04, 0x4D, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x3C, 0x00, 0x03, 0x61, 0x62, 0x63}),
      protocol_version::v5, c);
}

TEST(GoldenV311, EmptyClientIdWithCleanSessionIsAccepted) {
  connect c;
  c.version = V311;
  c.clean_start = true;
  c.keep_alive = 60;
  c.client_id = "";
  check_golden(c, V311, hexv({0x10, 0x0C, 0x00, 0x04, 0x4D, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x3C, 0x00, 0x00}));
}

}  // namespace
}  // namespace mqtt_test
