// The access rules every client is held to (topic_access.hpp).
#include "broker/topic_access.hpp"

#include <gtest/gtest.h>

namespace edgemq::broker {
namespace {

const std::string area = "clients/statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8";
const std::string mine = area + "/6D65";      // HEX("me")
const std::string theirs = area + "/796F75";  // HEX("you")

TEST(TopicAccess, BrokerOwnedTopics) {
  EXPECT_TRUE(broker_owned_topic("$SYS"));
  EXPECT_TRUE(broker_owned_topic("$SYS/broker/version"));
  EXPECT_TRUE(broker_owned_topic(theirs + "/command/notify/4B"));
  EXPECT_FALSE(broker_owned_topic("$SYSTEM/x"));
  EXPECT_FALSE(broker_owned_topic("sys/$SYS"));
  EXPECT_FALSE(broker_owned_topic("clients/me/statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8/command/invoke"));
  EXPECT_FALSE(broker_owned_topic("statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8/command/invoke"));
}

TEST(TopicAccess, FiltersIntoOtherClientsStateStoreTopicsAreRefused) {
  for (const auto& f :
       {std::string("clients/#"), std::string("clients/+/#"), std::string("clients/statestore/#"),
        std::string("clients/statestore/v1/+/#"), area + "/#", area + "/+", area + "/+/command/notify/#", theirs + "/#",
        theirs + "/command/notify/4B", std::string("clients/+/+/+/+/#")})
    EXPECT_TRUE(filter_reaches_other_clients(f, "me")) << f;
}

TEST(TopicAccess, OwnTopicsAndOrdinaryFiltersAreAllowed) {
  for (const auto& f : {mine + "/#", mine + "/command/notify/4B", mine, std::string("#"), std::string("+/#"),
                        std::string("+/statestore/v1/+/#"), std::string("a/b/#"), std::string("clients"),
                        std::string("clients/other/#"), std::string("clients/statestore/v2/#"), area,
                        std::string("clients/+"), std::string("clients/+/v1"), std::string("clients/6D65/#")})
    EXPECT_FALSE(filter_reaches_other_clients(f, "me")) << f;
}

TEST(TopicAccess, DeliveryOnlyToTheOwner) {
  EXPECT_TRUE(may_receive(mine + "/command/notify/4B", "me"));
  EXPECT_FALSE(may_receive(theirs + "/command/notify/4B", "me"));
  EXPECT_FALSE(may_receive(area + "/6D65", "you"));
  EXPECT_TRUE(may_receive("a/b", "anyone"));
  EXPECT_TRUE(may_receive(area, "anyone"));  // the area's root is no client's
}

}  // namespace
}  // namespace edgemq::broker

namespace edgemq::broker {
namespace {

TEST(TopicAccess, ThePrivateNamespaceTakesOnlyCommandReplies) {
  EXPECT_FALSE(broker_owned_topic(command_reply_topic));  // devices answer commands there
  EXPECT_TRUE(broker_owned_topic("$edgemq/commands/other"));
  EXPECT_TRUE(broker_owned_topic("$edgemq"));
  EXPECT_FALSE(broker_owned_topic("$edgemqx/a"));
  for (const auto* f : {"$edgemq/#", "$edgemq/+/reply", "$edgemq/commands/reply", "$edgemq"})
    EXPECT_TRUE(private_filter(f)) << f;
  for (const auto* f : {"#", "+/commands/reply", "$edgemqx/#", "edgemq/#"}) EXPECT_FALSE(private_filter(f)) << f;
}

}  // namespace
}  // namespace edgemq::broker
