// Golden bytes for MQTT 5 (OASIS MQTT Version 5.0, sections 2.2.2 and 3), written by hand.
// Properties appear in ascending property-id order; user properties and subscription
// identifiers at their id's position, in vector order.
#include <string>

#include <gtest/gtest.h>

#include "mqtt_test_util.hpp"

namespace mqtt_test {
namespace {

constexpr auto V5 = protocol_version::v5;

// ---------------------------------------------------------------- CONNECT (3.1)

TEST(GoldenV5, ConnectMinimal) {
  connect c;
  c.version = V5;
  c.clean_start = true;
  c.keep_alive = 60;
  c.client_id = "abc";
  check_golden(c, V5,
               hexv({0x10, 0x10,                          // CONNECT, remaining length 16
                     0x00, 0x04, 0x4D, 0x51, 0x54, 0x54,  // "MQTT"
                     0x05,                                // protocol version 5
                     0x02,                                // clean start
                     0x00, 0x3C,                          // keep alive 60
                     0x00,                                // no properties
                     0x00, 0x03, 0x61, 0x62, 0x63}));     // client id "abc"
}

connect full_v5_connect() {
  connect c;
  c.version = V5;
  c.clean_start = true;
  c.keep_alive = 30;
  c.client_id = "cid";
  c.props.session_expiry_interval = 3600;
  c.props.authentication_method = "SCRAM";
  c.props.authentication_data = std::string("\x01\x02", 2);
  c.props.request_problem_information = 0;
  c.props.request_response_information = 1;
  c.props.receive_maximum = 20;
  c.props.topic_alias_maximum = 10;
  c.props.user_properties = {{"k", "v"}};
  c.props.maximum_packet_size = 65536;
  will_message w;
  w.topic = "w/t";
  w.payload = "bye";
  w.qos = qos::at_least_once;
  w.retain = true;
  w.props.payload_format_indicator = 1;
  w.props.message_expiry_interval = 60;
  w.props.content_type = "text/plain";
  w.props.response_topic = "r/t";
  w.props.correlation_data = std::string("\x00\x01", 2);
  w.props.will_delay_interval = 5;
  w.props.user_properties = {{"a", "b"}};
  c.will = w;
  c.username = "user";
  c.password = "pass";
  return c;
}

TEST(GoldenV5, ConnectWithWillPropertiesUsernamePassword) {
  check_golden(full_v5_connect(), V5, hexv({0x10, 0x7A,                                // remaining length 122
                                            0x00, 0x04, 0x4D, 0x51, 0x54, 0x54, 0x05,  // "MQTT" v5
                                            0xEE,  // user | password | will retain | will QoS 1 | will | clean start
                                            0x00, 0x1E,                                      // keep alive 30
                                            0x28,                                            // property length 40
                                            0x11, 0x00, 0x00, 0x0E, 0x10,                    // session expiry 3600
                                            0x15, 0x00, 0x05, 0x53, 0x43, 0x52, 0x41, 0x4D,  // auth method "SCRAM"
                                            0x16, 0x00, 0x02, 0x01, 0x02,                    // auth data 01 02
                                            0x17, 0x00,                                      // request problem info 0
                                            0x19, 0x01,                                      // request response info 1
                                            0x21, 0x00, 0x14,                                // receive maximum 20
                                            0x22, 0x00, 0x0A,                                // topic alias maximum 10
                                            0x26, 0x00, 0x01, 0x6B, 0x00, 0x01, 0x76,        // user property k=v
                                            0x27, 0x00, 0x01, 0x00, 0x00,  // maximum packet size 65536
                                            0x00, 0x03, 0x63, 0x69, 0x64,  // client id "cid"
                                            0x2B,                          // will property length 43
                                            0x01, 0x01,                    // payload format 1
                                            0x02, 0x00, 0x00, 0x00, 0x3C,  // message expiry 60
                                            0x03, 0x00, 0x0A, 0x74, 0x65, 0x78, 0x74, 0x2F, 0x70, 0x6C, 0x61, 0x69,
                                            0x6E,                                      // content type "text/plain"
                                            0x08, 0x00, 0x03, 0x72, 0x2F, 0x74,        // response topic "r/t"
                                            0x09, 0x00, 0x02, 0x00, 0x01,              // correlation data 00 01
                                            0x18, 0x00, 0x00, 0x00, 0x05,              // will delay 5
                                            0x26, 0x00, 0x01, 0x61, 0x00, 0x01, 0x62,  // user property a=b
                                            0x00, 0x03, 0x77, 0x2F, 0x74,              // will topic "w/t"
                                            0x00, 0x03, 0x62, 0x79, 0x65,              // will payload "bye"
                                            0x00, 0x04, 0x75, 0x73, 0x65, 0x72,        // user name "user"
                                            0x00, 0x04, 0x70, 0x61, 0x73, 0x73}));     // password "pass"
}

TEST(GoldenV5, ConnectPasswordWithoutUsernameIsAllowed) {
  connect c;
  c.version = V5;
  c.clean_start = true;
  c.keep_alive = 60;
  c.client_id = "c";
  c.password = "p";
  check_golden(c, V5,
               hexv({0x10, 0x11, 0x00, 0x04, 0x4D, 0x51, 0x54, 0x54, 0x05,
                     0x42,                                // password | clean start
                     0x00, 0x3C, 0x00, 0x00, 0x01, 0x63,  // client id "c"
                     0x00, 0x01, 0x70}));                 // password "p"
}

// ---------------------------------------------------------------- CONNACK (3.2)

TEST(GoldenV5, ConnackSessionPresent) {
  connack a;
  a.session_present = true;
  check_golden(a, V5, hexv({0x20, 0x03, 0x01, 0x00, 0x00}));
}

TEST(GoldenV5, ConnackWithServerProperties) {
  connack a;
  a.session_present = false;
  a.code = reason_code::success;
  a.props.session_expiry_interval = 120;
  a.props.assigned_client_identifier = "auto-1";
  a.props.server_keep_alive = 30;
  a.props.response_information = "resp";
  a.props.receive_maximum = 100;
  a.props.topic_alias_maximum = 5;
  a.props.maximum_qos = 1;
  a.props.retain_available = 0;
  a.props.user_properties = {{"x", "y"}};
  a.props.maximum_packet_size = 1048576;
  a.props.wildcard_subscription_available = 0;
  a.props.subscription_identifier_available = 1;
  a.props.shared_subscription_available = 0;
  check_golden(a, V5, hexv({0x20, 0x37,                                            // remaining length 55
                            0x00, 0x00,                                            // flags, reason success
                            0x34,                                                  // property length 52
                            0x11, 0x00, 0x00, 0x00, 0x78,                          // session expiry 120
                            0x12, 0x00, 0x06, 0x61, 0x75, 0x74, 0x6F, 0x2D, 0x31,  // assigned id "auto-1"
                            0x13, 0x00, 0x1E,                                      // server keep alive 30
                            0x1A, 0x00, 0x04, 0x72, 0x65, 0x73, 0x70,              // response information "resp"
                            0x21, 0x00, 0x64,                                      // receive maximum 100
                            0x22, 0x00, 0x05,                                      // topic alias maximum 5
                            0x24, 0x01,                                            // maximum QoS 1
                            0x25, 0x00,                                            // retain available 0
                            0x26, 0x00, 0x01, 0x78, 0x00, 0x01, 0x79,              // user property x=y
                            0x27, 0x00, 0x10, 0x00, 0x00,                          // maximum packet size 1 MiB
                            0x28, 0x00,                                            // wildcard subs available 0
                            0x29, 0x01,                                            // subscription ids available 1
                            0x2A, 0x00}));                                         // shared subs available 0
}

TEST(GoldenV5, ConnackErrorWithServerReferenceAndReasonString) {
  connack a;
  a.code = reason_code::use_another_server;
  a.props.server_reference = "other";
  a.props.reason_string = "nope";
  check_golden(a, V5, hexv({0x20, 0x12, 0x00, 0x9C, 0x0F, 0x1C, 0x00,
                            0x05, 0x6F, 0x74, 0x68, 0x65, 0x72,           // server reference "other"
                            0x1F, 0x00, 0x04, 0x6E, 0x6F, 0x70, 0x65}));  // reason string "nope"
}

TEST(GoldenV5, ConnackNotAuthorizedKeepsV5ReasonCode) {
  connack a;
  a.code = reason_code::not_authorized;
  check_golden(a, V5, hexv({0x20, 0x03, 0x00, 0x87, 0x00}));
}

// ---------------------------------------------------------------- PUBLISH (3.3)

TEST(GoldenV5, PublishQos0NoProperties) {
  publish p;
  p.topic = "a/b";
  p.payload = "hi";
  check_golden(p, V5, hexv({0x30, 0x08, 0x00, 0x03, 0x61, 0x2F, 0x62, 0x00, 0x68, 0x69}));
}

TEST(GoldenV5, PublishWithManyProperties) {
  publish p;
  p.topic = "t/1";
  p.payload = "{}";
  p.qos = qos::at_least_once;
  p.packet_id = 0x1234;
  p.props.payload_format_indicator = 1;
  p.props.message_expiry_interval = 3600;
  p.props.content_type = "json";
  p.props.response_topic = "r/1";
  p.props.correlation_data = std::string("\xDE\xAD", 2);
  p.props.user_properties = {{"k1", "v1"}, {"k1", "v2"}};
  check_golden(p, V5, hexv({0x32, 0x35,                                            // PUBLISH QoS 1, remaining length 53
                            0x00, 0x03, 0x74, 0x2F, 0x31,                          // topic "t/1"
                            0x12, 0x34,                                            // packet id
                            0x2B,                                                  // property length 43
                            0x01, 0x01,                                            // payload format indicator 1
                            0x02, 0x00, 0x00, 0x0E, 0x10,                          // message expiry 3600
                            0x03, 0x00, 0x04, 0x6A, 0x73, 0x6F, 0x6E,              // content type "json"
                            0x08, 0x00, 0x03, 0x72, 0x2F, 0x31,                    // response topic "r/1"
                            0x09, 0x00, 0x02, 0xDE, 0xAD,                          // correlation data
                            0x26, 0x00, 0x02, 0x6B, 0x31, 0x00, 0x02, 0x76, 0x31,  // k1=v1
                            0x26, 0x00, 0x02, 0x6B, 0x31, 0x00, 0x02, 0x76, 0x32,  // k1=v2
                            0x7B, 0x7D}));                                         // payload "{}"
}

TEST(GoldenV5, PublishEmptyTopicWithTopicAlias) {
  publish p;
  p.topic = "";
  p.payload = "x";
  p.props.topic_alias = 3;
  check_golden(p, V5, hexv({0x30, 0x07, 0x00, 0x00, 0x03, 0x23, 0x00, 0x03, 0x78}));
}

TEST(GoldenV5, PublishTopicAndTopicAlias) {
  publish p;
  p.topic = "a";
  p.props.topic_alias = 1;
  check_golden(p, V5, hexv({0x30, 0x07, 0x00, 0x01, 0x61, 0x03, 0x23, 0x00, 0x01}));
}

TEST(GoldenV5, PublishQos2RetainWithSubscriptionIdentifiers) {
  publish p;
  p.topic = "a";
  p.qos = qos::exactly_once;
  p.retain = true;
  p.packet_id = 7;
  p.props.subscription_identifiers = {1, 200};
  check_golden(p, V5,
               hexv({0x35, 0x0B,                    // PUBLISH QoS 2 | RETAIN
                     0x00, 0x01, 0x61, 0x00, 0x07,  // topic "a", packet id 7
                     0x05,                          // property length 5
                     0x0B, 0x01,                    // subscription id 1
                     0x0B, 0xC8, 0x01}));           // subscription id 200
}

TEST(GoldenV5, PublishSubscriptionIdentifiersKeepVectorOrder) {
  publish p;
  p.topic = "a";
  p.props.subscription_identifiers = {268435455, 3};
  check_golden(p, V5,
               hexv({0x30, 0x0B, 0x00, 0x01, 0x61, 0x07, 0x0B, 0xFF, 0xFF, 0xFF, 0x7F,  // subscription id 268435455
                     0x0B, 0x03}));                                                     // subscription id 3
}

TEST(GoldenV5, PublishPayloadIsBinaryAndNotUtf8Checked) {
  publish p;
  p.topic = "a";
  p.payload = std::string("\xC0\x80\x00", 3);
  check_golden(p, V5, hexv({0x30, 0x07, 0x00, 0x01, 0x61, 0x00, 0xC0, 0x80, 0x00}));
}

TEST(GoldenV5, PublishCorrelationDataIsBinary) {
  publish p;
  p.topic = "a";
  p.props.correlation_data = std::string("\xED\xA0\x80\x00", 4);
  check_golden(p, V5, hexv({0x30, 0x0B, 0x00, 0x01, 0x61, 0x07, 0x09, 0x00, 0x04, 0xED, 0xA0, 0x80, 0x00}));
}

// ---------------------------------------------------------------- PUBACK .. PUBCOMP (3.4 - 3.7)

TEST(GoldenV5, PubackSuccessUsesShortForm) {
  puback a;
  a.packet_id = 10;
  check_golden(a, V5, hexv({0x40, 0x02, 0x00, 0x0A}));
}

TEST(GoldenV5, PubrecPubrelPubcompSuccessUseShortForm) {
  pubrec rec;
  rec.packet_id = 5;
  check_golden(rec, V5, hexv({0x50, 0x02, 0x00, 0x05}));
  pubrel rel;
  rel.packet_id = 5;
  check_golden(rel, V5, hexv({0x62, 0x02, 0x00, 0x05}));
  pubcomp comp;
  comp.packet_id = 5;
  check_golden(comp, V5, hexv({0x70, 0x02, 0x00, 0x05}));
}

TEST(GoldenV5, PubackWithReasonAndProperties) {
  puback a;
  a.packet_id = 10;
  a.code = reason_code::not_authorized;
  a.props.reason_string = "no";
  a.props.user_properties = {{"a", "b"}};
  check_golden(a, V5,
               hexv({0x40, 0x10, 0x00, 0x0A, 0x87,
                     0x0C,                                         // property length 12
                     0x1F, 0x00, 0x02, 0x6E, 0x6F,                 // reason string "no"
                     0x26, 0x00, 0x01, 0x61, 0x00, 0x01, 0x62}));  // user property a=b
}

TEST(GoldenV5, PubackReasonWithoutPropertiesDecodesInBothForms) {
  puback a;
  a.packet_id = 10;
  a.code = reason_code::no_matching_subscribers;
  // Remaining length 3: property length omitted (3.4.2.2.1).
  check_decodes_to(hexv({0x40, 0x03, 0x00, 0x0A, 0x10}), V5, a);
  // Remaining length 4 with an explicit empty property block.
  check_decodes_to(hexv({0x40, 0x04, 0x00, 0x0A, 0x10, 0x00}), V5, a);
  check_round_trip(a, V5);
}

TEST(GoldenV5, PubackShortFormDecodes) {
  puback a;
  a.packet_id = 10;
  check_decodes_to(hexv({0x40, 0x02, 0x00, 0x0A}), V5, a);
  check_decodes_to(hexv({0x40, 0x04, 0x00, 0x0A, 0x00, 0x00}), V5, a);
}

TEST(GoldenV5, PubrecWithReasonString) {
  pubrec a;
  a.packet_id = 5;
  a.code = reason_code::quota_exceeded;
  a.props.reason_string = "q";
  check_golden(a, V5, hexv({0x50, 0x08, 0x00, 0x05, 0x97, 0x04, 0x1F, 0x00, 0x01, 0x71}));
}

TEST(GoldenV5, PubrelWithUserProperty) {
  pubrel a;
  a.packet_id = 5;
  a.code = reason_code::packet_identifier_not_found;
  a.props.user_properties = {{"a", "b"}};
  check_golden(a, V5, hexv({0x62, 0x0B, 0x00, 0x05, 0x92, 0x07, 0x26, 0x00, 0x01, 0x61, 0x00, 0x01, 0x62}));
}

TEST(GoldenV5, PubcompWithReasonString) {
  pubcomp a;
  a.packet_id = 5;
  a.props.reason_string = "ok";
  check_golden(a, V5, hexv({0x70, 0x09, 0x00, 0x05, 0x00, 0x05, 0x1F, 0x00, 0x02, 0x6F, 0x6B}));
}

TEST(GoldenV5, PubrelShortFormDecodes) {
  pubrel a;
  a.packet_id = 0x0102;
  check_decodes_to(hexv({0x62, 0x02, 0x01, 0x02}), V5, a);
  pubrel b;
  b.packet_id = 0x0102;
  b.code = reason_code::packet_identifier_not_found;
  check_decodes_to(hexv({0x62, 0x03, 0x01, 0x02, 0x92}), V5, b);
}

// ---------------------------------------------------------------- SUBSCRIBE / SUBACK (3.8, 3.9)

TEST(GoldenV5, SubscribeWithOptionsAndSubscriptionIdentifier) {
  subscribe s;
  s.packet_id = 10;
  s.props.subscription_identifiers = {5};
  s.props.user_properties = {{"k", "v"}};
  subscription e1;
  e1.filter = "a/b";
  e1.options.qos = qos::at_least_once;
  e1.options.no_local = true;
  e1.options.retain_as_published = true;
  e1.options.retain_handling = retain_handling::send_if_new;
  subscription e2;
  e2.filter = "c/#";
  e2.options.qos = qos::exactly_once;
  e2.options.retain_handling = retain_handling::dont_send;
  subscription e3;
  e3.filter = "$share/g/d";
  s.entries = {e1, e2, e3};
  check_golden(s, V5, hexv({0x82, 0x25,                                // SUBSCRIBE, remaining length 37
                            0x00, 0x0A,                                // packet id 10
                            0x09,                                      // property length 9
                            0x0B, 0x05,                                // subscription id 5
                            0x26, 0x00, 0x01, 0x6B, 0x00, 0x01, 0x76,  // user property k=v
                            0x00, 0x03, 0x61, 0x2F, 0x62,              // "a/b"
                            0x1D,                          // QoS 1 | no local | retain as published | retain handling 1
                            0x00, 0x03, 0x63, 0x2F, 0x23,  // "c/#"
                            0x22,                          // QoS 2 | retain handling 2
                            0x00, 0x0A, 0x24, 0x73, 0x68, 0x61, 0x72,
                            0x65, 0x2F, 0x67, 0x2F, 0x64, 0x00}));  // "$share/g/d", defaults
}

TEST(GoldenV5, SubscribeNoProperties) {
  subscribe s;
  s.packet_id = 1;
  subscription e;
  e.filter = "a";
  s.entries = {e};
  check_golden(s, V5, hexv({0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, 0x61, 0x00}));
}

TEST(GoldenV5, Suback) {
  suback a;
  a.packet_id = 10;
  a.codes = {reason_code::granted_qos_0, reason_code::granted_qos_1, reason_code::granted_qos_2,
             reason_code::not_authorized};
  a.props.reason_string = "r";
  check_golden(a, V5, hexv({0x90, 0x0B, 0x00, 0x0A, 0x04, 0x1F, 0x00, 0x01, 0x72, 0x00, 0x01, 0x02, 0x87}));
}

TEST(GoldenV5, SubackKeepsV5ErrorCodes) {
  suback a;
  a.packet_id = 3;
  a.codes = {reason_code::topic_filter_invalid, reason_code::shared_subscriptions_not_supported,
             reason_code::wildcard_subscriptions_not_supported};
  check_golden(a, V5, hexv({0x90, 0x06, 0x00, 0x03, 0x00, 0x8F, 0x9E, 0xA2}));
}

// ---------------------------------------------------------------- UNSUBSCRIBE / UNSUBACK (3.10, 3.11)

TEST(GoldenV5, Unsubscribe) {
  unsubscribe u;
  u.packet_id = 11;
  u.props.user_properties = {{"k", "v"}};
  u.filters = {"a/b", "c/+"};
  check_golden(u, V5,
               hexv({0xA2, 0x14, 0x00, 0x0B, 0x07, 0x26, 0x00, 0x01, 0x6B, 0x00, 0x01, 0x76,  // user property k=v
                     0x00, 0x03, 0x61, 0x2F, 0x62,                                            // "a/b"
                     0x00, 0x03, 0x63, 0x2F, 0x2B}));                                         // "c/+"
}

TEST(GoldenV5, Unsuback) {
  unsuback a;
  a.packet_id = 11;
  a.codes = {reason_code::success, reason_code::no_subscription_existed, reason_code::not_authorized};
  check_golden(a, V5, hexv({0xB0, 0x06, 0x00, 0x0B, 0x00, 0x00, 0x11, 0x87}));
}

TEST(GoldenV5, UnsubackWithEmptyKeyAndUtf8UserProperty) {
  unsuback a;
  a.packet_id = 3;
  a.codes = {reason_code::success};
  a.props.user_properties = {{"", "\xC3\xBC"}};  // "" = "ü"
  check_golden(a, V5, hexv({0xB0, 0x0B, 0x00, 0x03, 0x07, 0x26, 0x00, 0x00, 0x00, 0x02, 0xC3, 0xBC, 0x00}));
}

// ---------------------------------------------------------------- PINGREQ / PINGRESP

TEST(GoldenV5, Pingreq) {
  check_golden(pingreq{}, V5, hexv({0xC0, 0x00}));
}

TEST(GoldenV5, Pingresp) {
  check_golden(pingresp{}, V5, hexv({0xD0, 0x00}));
}

// ---------------------------------------------------------------- DISCONNECT (3.14)

TEST(GoldenV5, DisconnectWithReasonAndProperties) {
  disconnect d;
  d.code = reason_code::disconnect_with_will;
  d.props.session_expiry_interval = 0;
  d.props.reason_string = "bye";
  check_golden(d, V5,
               hexv({0xE0, 0x0D, 0x04, 0x0B, 0x11, 0x00, 0x00, 0x00, 0x00,  // session expiry 0
                     0x1F, 0x00, 0x03, 0x62, 0x79, 0x65}));                 // reason string "bye"
}

TEST(GoldenV5, DisconnectWithServerReference) {
  disconnect d;
  d.code = reason_code::use_another_server;
  d.props.server_reference = "b2";
  check_golden(d, V5, hexv({0xE0, 0x07, 0x9C, 0x05, 0x1C, 0x00, 0x02, 0x62, 0x32}));
}

TEST(GoldenV5, DisconnectShortFormsDecode) {
  // Remaining length 0: normal disconnection, no properties.
  check_decodes_to(hexv({0xE0, 0x00}), V5, disconnect{});
  // Remaining length 1: reason code, no properties.
  disconnect d;
  d.code = reason_code::server_shutting_down;
  check_decodes_to(hexv({0xE0, 0x01, 0x8B}), V5, d);
  // Explicit normal disconnection with empty property block.
  check_decodes_to(hexv({0xE0, 0x02, 0x00, 0x00}), V5, disconnect{});
}

TEST(GoldenV5, DisconnectShortFormsRoundTrip) {
  check_round_trip(disconnect{}, V5);
  disconnect d;
  d.code = reason_code::server_shutting_down;
  check_round_trip(d, V5);
}

// ---------------------------------------------------------------- AUTH (3.15)

TEST(GoldenV5, AuthContinueWithMethodAndData) {
  auth a;
  a.code = reason_code::continue_authentication;
  a.props.authentication_method = "SCRAM";
  a.props.authentication_data = "xyz";
  check_golden(a, V5,
               hexv({0xF0, 0x10, 0x18, 0x0E, 0x15, 0x00, 0x05, 0x53, 0x43, 0x52, 0x41, 0x4D,  // method "SCRAM"
                     0x16, 0x00, 0x03, 0x78, 0x79, 0x7A}));                                   // data "xyz"
}

TEST(GoldenV5, AuthShortFormDecodes) {
  check_decodes_to(hexv({0xF0, 0x00}), V5, auth{});
  check_decodes_to(hexv({0xF0, 0x02, 0x00, 0x00}), V5, auth{});
}

TEST(GoldenV5, AuthShortFormRoundTrips) {
  check_round_trip(auth{}, V5);
}

}  // namespace
}  // namespace mqtt_test
