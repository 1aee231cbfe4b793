// The fixture of the cluster tests that need one real etcd member: started on fresh ports for each
// test, skipped with a message where Debian's etcd-server is not installed.
#pragma once

#include <chrono>

#include <gtest/gtest.h>

#include "single_etcd.hpp"

namespace edgemq::cluster::live {

class live_etcd_test : public ::testing::Test {
 protected:
  void SetUp() override {
    using namespace std::chrono_literals;
    if (!etcd_bin()) GTEST_SKIP() << "etcd not installed (Debian package etcd-server)";
    etcd_.start();
    etcd_client probe(etcd_options{{etcd_.url()}, 1000ms, {}});
    ASSERT_TRUE(wait_up(probe, 20s));
  }
  single_etcd etcd_;
};

}  // namespace edgemq::cluster::live
