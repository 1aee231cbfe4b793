// Malformed and protocol-violating inputs: each must be rejected with the exact reason code.
// Every case has exactly one defect; the near-miss table further down holds the same shapes
// without the defect and must decode, so a rejection is caused by the defect and nothing else.
#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "mqtt_test_util.hpp"

namespace mqtt_test {
namespace {

constexpr auto V311 = protocol_version::v311;
constexpr auto V5 = protocol_version::v5;

constexpr auto MALFORMED = reason_code::malformed_packet;
constexpr auto PROTOCOL = reason_code::protocol_error;

struct bad_case {
  std::string name;
  protocol_version version;
  std::uint8_t header;
  bytes body;
  reason_code expected;
};

void PrintTo(const bad_case& c, std::ostream* os) {
  *os << c.name << " header " << hex(bytes{c.header}) << " body [" << hex(c.body) << "]";
}

// Binary string (may contain NUL) with a two-byte length prefix.
bytes bstr(const char* s, std::size_t n) {
  return str(std::string_view(s, n));
}

// CONNECT bodies: protocol name, level, flags, keep alive 60, [properties], payload.
bytes c311(std::uint8_t flags, const bytes& payload) {
  return cat({str("MQTT"), bytes{0x04, flags, 0x00, 0x3C}, payload});
}
bytes c5(std::uint8_t flags, const bytes& prop_content, const bytes& payload) {
  return cat({str("MQTT"), bytes{0x05, flags, 0x00, 0x3C}, props(prop_content), payload});
}
// v5 CONNECT with will flag + clean start; will properties as given.
bytes c5_will(const bytes& will_prop_content) {
  return c5(0x06, {}, cat({str("c"), props(will_prop_content), str("w"), str("p")}));
}
// PUBLISH QoS 0 body "a" with v5 properties.
bytes pub5(const bytes& prop_content) {
  return cat({str("a"), props(prop_content)});
}
// PUBACK v5 body: packet id 1, reason 0x80, properties.
bytes ack5(const bytes& prop_content) {
  return cat({bytes{0x00, 0x01, 0x80}, props(prop_content)});
}
// CONNACK v5 body: no session, success, properties.
bytes connack5(const bytes& prop_content) {
  return cat({bytes{0x00, 0x00}, props(prop_content)});
}
// SUBSCRIBE v311 / v5 with one filter and options.
bytes sub311(std::string_view filter, std::uint8_t opts) {
  return cat({bytes{0x00, 0x01}, str(filter), bytes{opts}});
}
bytes sub5(std::string_view filter, std::uint8_t opts) {
  return cat({bytes{0x00, 0x01, 0x00}, str(filter), bytes{opts}});
}

std::vector<bad_case> bad_cases() {
  return {
      // ---- reserved fixed-header flag bits (2.1.3)
      {"PubrelFlags0000_v311", V311, 0x60, {0x00, 0x01}, MALFORMED},
      {"PubrelFlags0000_v5", V5, 0x60, {0x00, 0x01}, MALFORMED},
      {"PubrelFlags0011", V311, 0x63, {0x00, 0x01}, MALFORMED},
      {"SubscribeFlags0000", V311, 0x80, sub311("a", 0x00), MALFORMED},
      {"SubscribeFlags0011", V311, 0x83, sub311("a", 0x00), MALFORMED},
      {"UnsubscribeFlags0000_v5", V5, 0xA0, cat({bytes{0x00, 0x01, 0x00}, str("a")}), MALFORMED},
      {"ConnectFlags0001", V311, 0x11, c311(0x02, str("c")), MALFORMED},
      {"ConnackFlags1000", V311, 0x28, {0x00, 0x00}, MALFORMED},
      {"PubackFlags0010", V311, 0x42, {0x00, 0x01}, MALFORMED},
      {"PubrecFlags0001", V5, 0x51, {0x00, 0x01}, MALFORMED},
      {"PubcompFlags0010", V311, 0x72, {0x00, 0x01}, MALFORMED},
      {"SubackFlags0010", V311, 0x92, {0x00, 0x01, 0x00}, MALFORMED},
      {"UnsubackFlags0010", V311, 0xB2, {0x00, 0x01}, MALFORMED},
      {"PingreqFlags0001", V311, 0xC1, {}, MALFORMED},
      {"PingrespFlags1000", V5, 0xD8, {}, MALFORMED},
      {"DisconnectFlags1111_v5", V5, 0xEF, {}, MALFORMED},
      {"AuthFlags0001", V5, 0xF1, {}, MALFORMED},

      // ---- packet type
      {"PacketType0_v5", V5, 0x00, {}, MALFORMED},
      {"PacketType0_v311", V311, 0x00, {0x00, 0x01}, MALFORMED},
      {"AuthInV311", V311, 0xF0, {}, MALFORMED},
      {"AuthWithBodyInV311", V311, 0xF0, {0x18, 0x00}, MALFORMED},

      // ---- truncated fields, lengths beyond the body, trailing bytes
      {"PublishTopicLengthBeyondBody", V311, 0x30, {0x00, 0x05, 0x61}, MALFORMED},
      {"PublishEmptyBody", V311, 0x30, {}, MALFORMED},
      {"PublishQos1MissingPacketId", V311, 0x32, str("a"), MALFORMED},
      {"PublishMissingPropertyLength_v5", V5, 0x30, str("a/b"), MALFORMED},
      {"PubackTruncated_v311", V311, 0x40, {0x00}, MALFORMED},
      {"PubackTruncated_v5", V5, 0x40, {0x00}, MALFORMED},
      {"PubackTrailingByte_v311", V311, 0x40, {0x00, 0x01, 0x00}, MALFORMED},
      {"PubackTrailingAfterProperties_v5", V5, 0x40, {0x00, 0x01, 0x00, 0x00, 0xFF}, MALFORMED},
      {"PingreqWithBody", V311, 0xC0, {0x00}, MALFORMED},
      {"PingrespWithBody", V5, 0xD0, {0x00}, MALFORMED},
      {"DisconnectWithBody_v311", V311, 0xE0, {0x00}, MALFORMED},
      {"ConnackTrailingByte_v311", V311, 0x20, {0x00, 0x00, 0x00}, MALFORMED},
      {"ConnackTruncated_v311", V311, 0x20, {0x00}, MALFORMED},
      {"ConnackTruncated_v5", V5, 0x20, {0x00}, MALFORMED},
      {"SubscribeMissingOptionsByte", V311, 0x82, cat({bytes{0x00, 0x01}, str("a")}), MALFORMED},
      {"UnsubscribeFilterLengthBeyondBody", V311, 0xA2, {0x00, 0x01, 0x00, 0x03, 0x61}, MALFORMED},
      {"UnsubackWithPayload_v311", V311, 0xB0, {0x00, 0x01, 0x00}, MALFORMED},
      {"ConnectTruncatedAfterLevel", V311, 0x10, cat({str("MQTT"), bytes{0x04}}), MALFORMED},
      {"ConnectTrailingByte_v311", V311, 0x10, cat({c311(0x02, str("c")), bytes{0x00}}), MALFORMED},
      {"ConnectUsernameFlagWithoutUsername", V311, 0x10, c311(0x82, str("c")), MALFORMED},
      {"ConnectWillFlagWithoutWillPayload_v5", V5, 0x10, c5(0x06, {}, cat({str("c"), props({}), str("w")})), MALFORMED},
      {"PropertyLengthBeyondBody", V5, 0x40, {0x00, 0x01, 0x80, 0x05, 0x1F}, MALFORMED},
      {"PropertyValueBeyondPropertyBlock", V5, 0x40, {0x00, 0x01, 0x80, 0x03, 0x1F, 0x00, 0x05}, MALFORMED},
      {"PropertyLengthVarintTooLong", V5, 0x40, {0x00, 0x01, 0x80, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F}, MALFORMED},
      {"UserPropertyMissingValue", V5, 0x40, ack5(cat({bytes{0x26}, str("k")})), MALFORMED},
      {"PublishPropertyLengthBeyondBody", V5, 0x30, cat({str("a"), bytes{0x04, 0x23, 0x00}}), MALFORMED},

      // ---- duplicate properties
      {"DuplicateMessageExpiry_Publish", V5, 0x30, pub5({0x02, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x02}),
       PROTOCOL},
      {"DuplicateReasonString_Puback", V5, 0x40, ack5(cat({bytes{0x1F}, str("x"), bytes{0x1F}, str("y")})), PROTOCOL},
      {"DuplicateSessionExpiry_Connect", V5, 0x10,
       c5(0x02, {0x11, 0x00, 0x00, 0x00, 0x01, 0x11, 0x00, 0x00, 0x00, 0x01}, str("c")), PROTOCOL},
      {"DuplicateTopicAlias_Publish", V5, 0x30, pub5({0x23, 0x00, 0x01, 0x23, 0x00, 0x02}), PROTOCOL},
      {"DuplicateSubscriptionIdentifier_Subscribe", V5, 0x82,
       cat({bytes{0x00, 0x01}, props({0x0B, 0x01, 0x0B, 0x02}), str("a"), bytes{0x00}}), PROTOCOL},
      {"DuplicateContentType_WillProperties", V5, 0x10, c5_will(cat({bytes{0x03}, str("a"), bytes{0x03}, str("b")})),
       PROTOCOL},
      {"DuplicateMaximumQos_Connack", V5, 0x20, connack5({0x24, 0x01, 0x24, 0x01}), PROTOCOL},

      // ---- property not allowed in this packet / unknown property id
      {"TopicAliasInPuback", V5, 0x40, ack5({0x23, 0x00, 0x01}), MALFORMED},
      {"UnknownPropertyId7F", V5, 0x30, pub5({0x7F, 0x00}), MALFORMED},
      {"UnknownPropertyId04", V5, 0x30, pub5({0x04, 0x00, 0x00, 0x00, 0x01}), MALFORMED},
      {"SessionExpiryInPublish", V5, 0x30, pub5({0x11, 0x00, 0x00, 0x00, 0x01}), MALFORMED},
      {"ReasonStringInPublish", V5, 0x30, pub5(cat({bytes{0x1F}, str("x")})), MALFORMED},
      {"SubscriptionIdentifierInUnsubscribe", V5, 0xA2, cat({bytes{0x00, 0x01}, props({0x0B, 0x01}), str("a")}),
       MALFORMED},
      {"WillDelayInConnectProperties", V5, 0x10, c5(0x02, {0x18, 0x00, 0x00, 0x00, 0x01}, str("c")), MALFORMED},
      {"ServerKeepAliveInConnect", V5, 0x10, c5(0x02, {0x13, 0x00, 0x0A}, str("c")), MALFORMED},
      {"SessionExpiryInWillProperties", V5, 0x10, c5_will({0x11, 0x00, 0x00, 0x00, 0x01}), MALFORMED},
      {"WillDelayInDisconnect", V5, 0xE0, cat({bytes{0x00}, props({0x18, 0x00, 0x00, 0x00, 0x01})}), MALFORMED},
      {"MaximumQosInConnect", V5, 0x10, c5(0x02, {0x24, 0x01}, str("c")), MALFORMED},

      // ---- property values out of range
      {"PayloadFormatIndicator2_Publish", V5, 0x30, pub5({0x01, 0x02}), PROTOCOL},
      {"PayloadFormatIndicator2_Will", V5, 0x10, c5_will({0x01, 0x02}), PROTOCOL},
      {"RequestProblemInformation2", V5, 0x10, c5(0x02, {0x17, 0x02}, str("c")), PROTOCOL},
      {"RequestResponseInformation2", V5, 0x10, c5(0x02, {0x19, 0x02}, str("c")), PROTOCOL},
      {"ReceiveMaximum0_Connect", V5, 0x10, c5(0x02, {0x21, 0x00, 0x00}, str("c")), PROTOCOL},
      {"ReceiveMaximum0_Connack", V5, 0x20, connack5({0x21, 0x00, 0x00}), PROTOCOL},
      {"MaximumPacketSize0_Connect", V5, 0x10, c5(0x02, {0x27, 0x00, 0x00, 0x00, 0x00}, str("c")), PROTOCOL},
      {"MaximumPacketSize0_Connack", V5, 0x20, connack5({0x27, 0x00, 0x00, 0x00, 0x00}), PROTOCOL},
      {"SubscriptionIdentifier0_Subscribe", V5, 0x82,
       cat({bytes{0x00, 0x01}, props({0x0B, 0x00}), str("a"), bytes{0x00}}), PROTOCOL},
      {"SubscriptionIdentifier0_Publish", V5, 0x30, pub5({0x0B, 0x00}), PROTOCOL},
      {"MaximumQos2_Connack", V5, 0x20, connack5({0x24, 0x02}), PROTOCOL},
      {"RetainAvailable2_Connack", V5, 0x20, connack5({0x25, 0x02}), PROTOCOL},
      {"WildcardSubscriptionAvailable2_Connack", V5, 0x20, connack5({0x28, 0x02}), PROTOCOL},
      {"SubscriptionIdentifierAvailable2_Connack", V5, 0x20, connack5({0x29, 0x02}), PROTOCOL},
      {"SharedSubscriptionAvailable2_Connack", V5, 0x20, connack5({0x2A, 0x02}), PROTOCOL},
      {"TopicAlias0_Publish", V5, 0x30, pub5({0x23, 0x00, 0x00}), reason_code::topic_alias_invalid},

      // ---- ill-formed UTF-8 and U+0000 in strings
      {"TopicOverlongNul_C080", V311, 0x30, bstr("a\xC0\x80", 3), MALFORMED},
      {"TopicSurrogate_EDA080_v5", V5, 0x30, cat({bstr("\xED\xA0\x80", 3), bytes{0x00}}), MALFORMED},
      {"ClientIdAboveU10FFFF_F4908080", V311, 0x10, c311(0x02, bstr("\xF4\x90\x80\x80", 4)), MALFORMED},
      {"FilterTruncatedSequence_E282", V311, 0x82, sub311(std::string_view("\xE2\x82", 2), 0x00), MALFORMED},
      {"UsernameLoneContinuation_80", V311, 0x10, c311(0x82, cat({str("c"), bstr("\x80", 1)})), MALFORMED},
      {"TopicContainsU0000", V311, 0x30, bstr("a\0b", 3), MALFORMED},
      {"ContentTypeInvalidUtf8", V5, 0x30, pub5(cat({bytes{0x03}, bstr("\xC3\x28", 2)})), MALFORMED},
      {"UserPropertyKeyInvalidUtf8", V5, 0x40, ack5(cat({bytes{0x26}, bstr("\xFF", 1), str("v")})), MALFORMED},
      {"UserPropertyValueU0000", V5, 0xE0, cat({bytes{0x00}, props(cat({bytes{0x26}, str("k"), bstr("\0", 1)}))}),
       MALFORMED},
      {"WillTopicOverlong_C0AF", V311, 0x10, c311(0x06, cat({str("c"), bstr("\xC0\xAF", 2), str("p")})), MALFORMED},
      {"UnsubscribeFilterU0000_v5", V5, 0xA2, cat({bytes{0x00, 0x01, 0x00}, bstr("a\0", 2)}), MALFORMED},
      {"ReasonStringOverlong_E08080", V5, 0x40, ack5(cat({bytes{0x1F}, bstr("\xE0\x80\x80", 3)})), MALFORMED},
      {"ClientIdTruncatedFourByteSequence", V5, 0x10, c5(0x02, {}, bstr("\xF0\x9F\x98", 3)), MALFORMED},

      // ---- PUBLISH
      {"PublishQos3_v311", V311, 0x36, cat({str("a"), bytes{0x00, 0x01}}), MALFORMED},
      {"PublishQos3_v5", V5, 0x36, cat({str("a"), bytes{0x00, 0x01, 0x00}}), MALFORMED},
      {"PublishDupWithQos0", V311, 0x38, str("a"), MALFORMED},
      {"PublishDupWithQos0_v5", V5, 0x38, pub5({}), MALFORMED},
      {"PublishTopicWithPlus", V311, 0x30, str("a/+"), reason_code::topic_name_invalid},
      {"PublishTopicWithHash_v5", V5, 0x30, cat({str("a/#"), bytes{0x00}}), reason_code::topic_name_invalid},
      {"PublishTopicWithHashInsideLevel", V311, 0x30, str("a#"), reason_code::topic_name_invalid},
      {"PublishEmptyTopic_v311", V311, 0x30, cat({str(""), raw("x")}), PROTOCOL},
      {"PublishEmptyTopicWithoutAlias_v5", V5, 0x30, cat({str(""), bytes{0x00}}), PROTOCOL},
      {"PublishPacketId0_Qos1", V311, 0x32, cat({str("a"), bytes{0x00, 0x00}}), PROTOCOL},
      {"PublishPacketId0_Qos2_v5", V5, 0x34, cat({str("a"), bytes{0x00, 0x00, 0x00}}), PROTOCOL},

      // ---- packet identifier 0
      {"PubackPacketId0", V311, 0x40, {0x00, 0x00}, PROTOCOL},
      {"PubrecPacketId0_v5", V5, 0x50, {0x00, 0x00}, PROTOCOL},
      {"PubrelPacketId0", V311, 0x62, {0x00, 0x00}, PROTOCOL},
      {"PubcompPacketId0_v5", V5, 0x70, {0x00, 0x00}, PROTOCOL},
      {"SubscribePacketId0", V311, 0x82, cat({bytes{0x00, 0x00}, str("a"), bytes{0x00}}), PROTOCOL},
      {"UnsubscribePacketId0", V311, 0xA2, cat({bytes{0x00, 0x00}, str("a")}), PROTOCOL},
      {"SubackPacketId0", V311, 0x90, {0x00, 0x00, 0x00}, PROTOCOL},
      {"UnsubackPacketId0_v311", V311, 0xB0, {0x00, 0x00}, PROTOCOL},
      {"UnsubackPacketId0_v5", V5, 0xB0, {0x00, 0x00, 0x00, 0x00}, PROTOCOL},

      // ---- SUBSCRIBE / UNSUBSCRIBE payloads
      {"SubscribeNoEntries_v311", V311, 0x82, {0x00, 0x01}, PROTOCOL},
      {"SubscribeNoEntries_v5", V5, 0x82, {0x00, 0x01, 0x00}, PROTOCOL},
      {"UnsubscribeNoFilters_v311", V311, 0xA2, {0x00, 0x01}, PROTOCOL},
      {"UnsubscribeNoFilters_v5", V5, 0xA2, {0x00, 0x01, 0x00}, PROTOCOL},
      {"OptionsReservedBit6_v5", V5, 0x82, sub5("a", 0x40), MALFORMED},
      {"OptionsReservedBit7_v5", V5, 0x82, sub5("a", 0x80), MALFORMED},
      {"OptionsNoLocalBitIsReservedInV311", V311, 0x82, sub311("a", 0x04), MALFORMED},
      {"OptionsRetainHandlingBitsAreReservedInV311", V311, 0x82, sub311("a", 0x10), MALFORMED},
      {"OptionsBit7InV311", V311, 0x82, sub311("a", 0x81), MALFORMED},
      {"OptionsQos3_v5", V5, 0x82, sub5("a", 0x03), PROTOCOL},  // MQTT 5 3.8.3.1: a Protocol Error
      {"OptionsQos3_v311", V311, 0x82, sub311("a", 0x03), MALFORMED},
      {"OptionsRetainHandling3", V5, 0x82, sub5("a", 0x30), PROTOCOL},
      {"FilterEmpty", V311, 0x82, sub311("", 0x00), reason_code::topic_filter_invalid},
      {"FilterHashNotLast", V311, 0x82, sub311("a/#/b", 0x00), reason_code::topic_filter_invalid},
      {"FilterHashInsideLevel", V5, 0x82, sub5("a#", 0x00), reason_code::topic_filter_invalid},
      {"FilterPlusInsideLevel", V311, 0x82, sub311("a/b+", 0x00), reason_code::topic_filter_invalid},
      {"FilterHashFirstLevel", V5, 0x82, sub5("#/a", 0x00), reason_code::topic_filter_invalid},
      {"FilterInvalidInSecondEntry", V5, 0x82, cat({sub5("a", 0x00), str("b+"), bytes{0x00}}),
       reason_code::topic_filter_invalid},
      {"UnsubscribeFilterHashNotLast_v5", V5, 0xA2, cat({bytes{0x00, 0x01, 0x00}, str("a/#/b")}),
       reason_code::topic_filter_invalid},
      {"UnsubscribeFilterEmpty_v311", V311, 0xA2, cat({bytes{0x00, 0x01}, str("")}), reason_code::topic_filter_invalid},

      // ---- CONNECT
      {"ConnectProtocolNameMQIsdp", V311, 0x10, cat({str("MQIsdp"), bytes{0x03, 0x02, 0x00, 0x3C}, str("c")}),
       reason_code::unsupported_protocol_version},
      {"ConnectProtocolNameMQTX", V311, 0x10, cat({str("MQTX"), bytes{0x04, 0x02, 0x00, 0x3C}, str("c")}),
       reason_code::unsupported_protocol_version},
      {"ConnectProtocolNameLowercase", V5, 0x10, cat({str("mqtt"), bytes{0x05, 0x02, 0x00, 0x3C, 0x00}, str("c")}),
       reason_code::unsupported_protocol_version},
      {"ConnectProtocolLevel3", V311, 0x10, cat({str("MQTT"), bytes{0x03, 0x02, 0x00, 0x3C}, str("c")}),
       reason_code::unsupported_protocol_version},
      {"ConnectProtocolLevel6", V5, 0x10, cat({str("MQTT"), bytes{0x06, 0x02, 0x00, 0x3C, 0x00}, str("c")}),
       reason_code::unsupported_protocol_version},
      {"ConnectReservedFlagBit0_v311", V311, 0x10, c311(0x03, str("c")), MALFORMED},
      {"ConnectReservedFlagBit0_v5", V5, 0x10, c5(0x03, {}, str("c")), MALFORMED},
      {"ConnectWillQosWithoutWillFlag", V311, 0x10, c311(0x0A, str("c")), MALFORMED},
      {"ConnectWillRetainWithoutWillFlag_v5", V5, 0x10, c5(0x22, {}, str("c")), MALFORMED},
      {"ConnectWillQos3", V311, 0x10, c311(0x1E, cat({str("c"), str("w"), str("p")})), MALFORMED},
      {"ConnectPasswordWithoutUsername_v311", V311, 0x10, c311(0x42, cat({str("c"), str("p")})), MALFORMED},
      {"ConnectEmptyClientIdWithoutCleanSession_v311", V311, 0x10, c311(0x00, str("")),
       reason_code::client_identifier_not_valid},
      {"ConnectWillTopicWithPlus_v311", V311, 0x10, c311(0x06, cat({str("c"), str("a/+"), str("p")})),
       reason_code::topic_name_invalid},
      {"ConnectWillTopicWithHash_v5", V5, 0x10, c5(0x06, {}, cat({str("c"), props({}), str("#"), str("p")})),
       reason_code::topic_name_invalid},

      // ---- reason codes not valid for the packet type
      {"PubackReason0x05", V5, 0x40, {0x00, 0x01, 0x05}, PROTOCOL},
      {"PubrecReason0x92", V5, 0x50, {0x00, 0x01, 0x92}, PROTOCOL},
      {"PubrelReason0x10", V5, 0x62, {0x00, 0x01, 0x10}, PROTOCOL},
      {"PubcompReason0x80", V5, 0x70, {0x00, 0x01, 0x80}, PROTOCOL},
      {"DisconnectReason0x03", V5, 0xE0, {0x03}, PROTOCOL},
      {"DisconnectReason0x18", V5, 0xE0, {0x18, 0x00}, PROTOCOL},
      {"AuthReason0x01", V5, 0xF0, {0x01, 0x00}, PROTOCOL},
      {"SubackReason0x03", V5, 0x90, {0x00, 0x01, 0x00, 0x03}, PROTOCOL},
      {"UnsubackReason0x01", V5, 0xB0, {0x00, 0x01, 0x00, 0x01}, PROTOCOL},
      {"ConnackReason0x01_v5", V5, 0x20, {0x00, 0x01, 0x00}, PROTOCOL},

      // ---- CONNACK
      {"ConnackReservedFlagBits_v311", V311, 0x20, {0x02, 0x00}, MALFORMED},
      {"ConnackReservedFlagBits_v5", V5, 0x20, {0x80, 0x00, 0x00}, MALFORMED},
      {"ConnackReturnCode6_v311", V311, 0x20, {0x00, 0x06}, MALFORMED},
      {"ConnackReturnCode0x80_v311", V311, 0x20, {0x00, 0x80}, MALFORMED},
  };
}

class Malformed : public ::testing::TestWithParam<bad_case> {};

TEST_P(Malformed, RejectedWithExactReasonCode) {
  const bad_case& c = GetParam();
  result<packet> r = decode(c.header, c.body, c.version);
  ASSERT_FALSE(r.has_value()) << "decoded successfully, expected " << to_string(c.expected);
  EXPECT_EQ(to_reason_code(r.error()), c.expected) << "actual: " << describe(r);
}

TEST_P(Malformed, RejectedAlsoWhenSplitByParseFrame) {
  const bad_case& c = GetParam();
  bytes wire = frame_of(c.header, c.body);
  frame_result fr = parse_frame(wire, k_no_limit);
  if (fr.status == frame_status::error) {
    // The framer may reject an invalid packet type itself; it must say malformed then.
    EXPECT_EQ(c.header >> 4, 0) << "only packet type 0 may be rejected by the framer";
    EXPECT_EQ(fr.error, reason_code::malformed_packet);
    return;
  }
  ASSERT_EQ(fr.status, frame_status::complete);
  ASSERT_EQ(fr.value.size, wire.size());
  result<packet> r = decode(fr.value.header, fr.value.body, c.version);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(to_reason_code(r.error()), c.expected) << "actual: " << describe(r);
}

INSTANTIATE_TEST_SUITE_P(Codec, Malformed, ::testing::ValuesIn(bad_cases()),
                         [](const ::testing::TestParamInfo<bad_case>& info) { return info.param.name; });

TEST(MalformedTable, HasAtLeastFiftyCases) {
  EXPECT_GE(bad_cases().size(), 50u);
}

// ------------------------------------------------------------------ near misses that are valid

struct good_case {
  std::string name;
  protocol_version version;
  std::uint8_t header;
  bytes body;
  packet_type type;
};

void PrintTo(const good_case& c, std::ostream* os) {
  *os << c.name << " header " << hex(bytes{c.header}) << " body [" << hex(c.body) << "]";
}

std::vector<good_case> good_cases() {
  using pt = packet_type;
  return {
      {"Connect311Base", V311, 0x10, c311(0x02, str("c")), pt::connect},
      {"Connect311EmptyClientIdCleanSession", V311, 0x10, c311(0x02, str("")), pt::connect},
      {"Connect311WillQos2Retain", V311, 0x10, c311(0x36, cat({str("c"), str("w"), str("p")})), pt::connect},
      {"Connect5Base", V5, 0x10, c5(0x02, {}, str("c")), pt::connect},
      {"Connect5WillWithProperties", V5, 0x10, c5_will({0x01, 0x01, 0x18, 0x00, 0x00, 0x00, 0x01}), pt::connect},
      {"Connect5ReceiveMaximum1", V5, 0x10, c5(0x02, {0x21, 0x00, 0x01}, str("c")), pt::connect},
      {"Connect5RequestProblemInformation1", V5, 0x10, c5(0x02, {0x17, 0x01}, str("c")), pt::connect},
      {"Connect5EmptyClientIdNoCleanStart", V5, 0x10, c5(0x00, {}, str("")), pt::connect},
      {"Connect5TwoUserProperties", V5, 0x10,
       c5(0x02, cat({bytes{0x26}, str("k"), str("v"), bytes{0x26}, str("k"), str("v")}), str("c")), pt::connect},
      {"PublishDuplicateUserProperty", V5, 0x30,
       pub5(cat({bytes{0x26}, str("k"), str("v"), bytes{0x26}, str("k"), str("v")})), pt::publish},
      {"PublishTwoSubscriptionIdentifiers", V5, 0x30, pub5({0x0B, 0x01, 0x0B, 0x02}), pt::publish},
      {"PublishPayloadFormatIndicator1", V5, 0x30, pub5({0x01, 0x01}), pt::publish},
      {"PublishEmptyTopicWithAlias", V5, 0x30, cat({str(""), props({0x23, 0xFF, 0xFF})}), pt::publish},
      {"PublishTopicSlashOnly", V311, 0x30, str("/"), pt::publish},
      {"PublishTopicEmptyLevels", V311, 0x30, str("a//b/"), pt::publish},
      {"PublishTopicTwoByteUtf8", V311, 0x30, bstr("\xC3\xBC", 2), pt::publish},
      {"PublishTopicU10FFFF", V311, 0x30, bstr("\xF4\x8F\xBF\xBF", 4), pt::publish},
      {"PublishTopicDollar", V311, 0x30, str("$SYS/x"), pt::publish},
      {"PublishDupQos1", V311, 0x3A, cat({str("a"), bytes{0x00, 0x01}}), pt::publish},
      {"PubackReason0x10", V5, 0x40, {0x00, 0x01, 0x10}, pt::puback},
      {"PubackReasonString", V5, 0x40, ack5(cat({bytes{0x1F}, str("x")})), pt::puback},
      {"PubrelReason0x92", V5, 0x62, {0x00, 0x01, 0x92}, pt::pubrel},
      {"SubscribeRetainHandling2AllOptions", V5, 0x82, sub5("a", 0x2E), pt::subscribe},
      {"SubscribeV311Qos2", V311, 0x82, sub311("a", 0x02), pt::subscribe},
      {"SubscribeWildcardFilter", V311, 0x82, sub311("+/+/#", 0x01), pt::subscribe},
      {"SubscribeHashOnly", V5, 0x82, sub5("#", 0x00), pt::subscribe},
      {"SubscribeSubscriptionIdentifierMax", V5, 0x82,
       cat({bytes{0x00, 0x01}, props({0x0B, 0xFF, 0xFF, 0xFF, 0x7F}), str("a"), bytes{0x00}}), pt::subscribe},
      {"UnsubscribeWildcards", V5, 0xA2, cat({bytes{0x00, 0x01, 0x00}, str("a/+/#")}), pt::unsubscribe},
      {"SubackV311Failure0x80", V311, 0x90, {0x00, 0x01, 0x80}, pt::suback},
      {"UnsubackV5NoSubscriptionExisted", V5, 0xB0, {0x00, 0x01, 0x00, 0x11}, pt::unsuback},
      {"ConnackReturnCode5_v311", V311, 0x20, {0x00, 0x05}, pt::connack},
      {"ConnackSessionPresent_v5", V5, 0x20, {0x01, 0x00, 0x00}, pt::connack},
      {"ConnackMaximumQos0", V5, 0x20, connack5({0x24, 0x00}), pt::connack},
      {"ConnackAvailabilityFlags1", V5, 0x20, connack5({0x25, 0x01, 0x28, 0x01, 0x29, 0x01, 0x2A, 0x01}), pt::connack},
      {"DisconnectWithWill", V5, 0xE0, {0x04}, pt::disconnect},
      {"DisconnectSessionExpiry", V5, 0xE0, cat({bytes{0x00}, props({0x11, 0x00, 0x00, 0x00, 0x0A})}), pt::disconnect},
      {"AuthReauthenticate", V5, 0xF0, cat({bytes{0x19}, props(cat({bytes{0x15}, str("m")}))}), pt::auth},
  };
}

class NearMiss : public ::testing::TestWithParam<good_case> {};

TEST_P(NearMiss, Decodes) {
  const good_case& c = GetParam();
  result<packet> r = decode(c.header, c.body, c.version);
  ASSERT_TRUE(r.has_value()) << describe(r);
  EXPECT_EQ(type_of(r.value()), c.type);
}

INSTANTIATE_TEST_SUITE_P(Codec, NearMiss, ::testing::ValuesIn(good_cases()),
                         [](const ::testing::TestParamInfo<good_case>& info) { return info.param.name; });

// ------------------------------------------------------------------ selected value checks

TEST(MalformedDetails, DuplicateUserPropertiesKeepOrder) {
  result<packet> r = decode(0x30, pub5(cat({bytes{0x26}, str("k"), str("2"), bytes{0x26}, str("k"), str("1")})), V5);
  ASSERT_TRUE(r.has_value()) << describe(r);
  const auto& p = std::get<publish>(r.value());
  ASSERT_EQ(p.props.user_properties.size(), 2u);
  EXPECT_EQ(p.props.user_properties[0], (user_property{"k", "2"}));
  EXPECT_EQ(p.props.user_properties[1], (user_property{"k", "1"}));
}

TEST(MalformedDetails, SubscribeOptionBitsDecode) {
  result<packet> r = decode(0x82, sub5("a", 0x2E), V5);
  ASSERT_TRUE(r.has_value()) << describe(r);
  const auto& s = std::get<subscribe>(r.value());
  ASSERT_EQ(s.entries.size(), 1u);
  EXPECT_EQ(s.entries[0].options.qos, qos::exactly_once);
  EXPECT_TRUE(s.entries[0].options.no_local);
  EXPECT_TRUE(s.entries[0].options.retain_as_published);
  EXPECT_EQ(s.entries[0].options.retain_handling, retain_handling::dont_send);
}

TEST(MalformedDetails, ErrorCodeCarriesReasonCategory) {
  result<packet> r = decode(0xC1, {}, V5);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(&r.error().category(), &reason_category());
  EXPECT_EQ(r.error().value(), 0x81);
}

}  // namespace
}  // namespace mqtt_test
