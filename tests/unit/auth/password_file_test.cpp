#include "auth/password_file.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

namespace edgemq::auth {
namespace {

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::optional<password_file> parse(const std::string& text, std::vector<line_error>& errors) {
  return password_file::parse(text, errors);
}

// A line made with 1000 iterations (the minimum), to keep the tests fast.
std::string fast_line(const std::string& user, const std::string& password) {
  return make_line(user, password, min_iterations);
}

TEST(PasswordFile, MadeLinesVerify) {
  std::vector<line_error> errors;
  auto f =
      parse("# comment\n\n" + fast_line("alice", "secret") + "\r\n" + fast_line("bob", "other pw:$") + "\n", errors);
  ASSERT_TRUE(f) << errors.front().message;
  EXPECT_EQ(f->size(), 2u);
  EXPECT_TRUE(f->verify("alice", "secret"));
  EXPECT_TRUE(f->verify("bob", "other pw:$"));
  EXPECT_FALSE(f->verify("alice", "Secret"));
  EXPECT_FALSE(f->verify("alice", "secret "));
  EXPECT_FALSE(f->verify("alice", ""));
  EXPECT_FALSE(f->verify("alice", "other pw:$"));  // another user's password
  EXPECT_FALSE(f->verify("carol", "secret"));      // unknown user
  EXPECT_FALSE(f->verify("", ""));
}

TEST(PasswordFile, LineFormatIsPbkdf2Sha512WithSaltAndIterations) {
  const auto line = make_line("alice", "secret", 1234);
  ASSERT_TRUE(line.starts_with("alice:$pbkdf2-sha512$1234$")) << line;
  EXPECT_NE(make_line("alice", "secret", 1234), line);  // a fresh salt each time
  // Known answer: PBKDF2-HMAC-SHA512("password", "salt", 1) from RFC 6070-style test vectors.
  const auto h = pbkdf2_sha512("password", "salt", 1);
  ASSERT_EQ(h.size(), 64u);
  EXPECT_EQ(static_cast<unsigned char>(h[0]), 0x86);
  EXPECT_EQ(static_cast<unsigned char>(h[1]), 0x7f);
  EXPECT_EQ(static_cast<unsigned char>(h[63]), 0xce);
}

TEST(PasswordFile, BadLinesAreRejectedWithTheirLineNumbers) {
  const auto good = fast_line("alice", "secret");
  const std::string text = good + "\n" +                                                            // 1
                           "no colon here\n" +                                                      // 2
                           "bob:$md5$1000$c2FsdHNhbHQ=$aGFzaA==\n" +                                // 3
                           "carol:$pbkdf2-sha512$12$c2FsdHNhbHQ=$" + std::string(88, 'A') + "\n" +  // 4
                           "dave:$pbkdf2-sha512$1000$not*base64$" + std::string(88, 'A') + "\n" +   // 5
                           "erin:$pbkdf2-sha512$1000$c2FsdHNhbHQ=$c2hvcnQ=\n" +                     // 6: hash too short
                           "# fine\n" +                                                             // 7
                           good + "\n" +                                                            // 8: alice again
                           ":$pbkdf2-sha512$1000$c2FsdHNhbHQ=$" + std::string(88, 'A') + "\n" +     // 9
                           "frank:$pbkdf2-sha512$1000$c2FsdHNhbHQ=\n";                              // 10
  std::vector<line_error> errors;
  EXPECT_FALSE(parse(text, errors));
  std::vector<std::size_t> lines;
  for (const auto& e : errors) lines.push_back(e.line);
  EXPECT_EQ(lines, (std::vector<std::size_t>{2, 3, 4, 5, 6, 8, 9, 10}));
  EXPECT_NE(errors[5].message.find("twice"), std::string::npos);
  EXPECT_NE(errors[2].message.find("iterations"), std::string::npos);
}

TEST(PasswordFile, ComparisonIsConstantTimeAndExact) {
  // verify() compares hashes with constant_time_equal (CRYPTO_memcmp); here its results.
  EXPECT_TRUE(constant_time_equal("", ""));
  EXPECT_TRUE(constant_time_equal(std::string(64, '\x01'), std::string(64, '\x01')));
  std::string a(64, 'a'), b = a;
  b[63] = 'b';
  EXPECT_FALSE(constant_time_equal(a, b));
  b = a;
  b[0] = 'b';
  EXPECT_FALSE(constant_time_equal(a, b));
  EXPECT_FALSE(constant_time_equal(a, a.substr(0, 63)));
  EXPECT_FALSE(constant_time_equal(std::string("a\0b", 3), std::string("a\0c", 3)));
}

TEST(PasswordFile, UserNames) {
  EXPECT_TRUE(valid_username("alice"));
  EXPECT_TRUE(valid_username("ünïcode user"));
  EXPECT_FALSE(valid_username(""));
  EXPECT_FALSE(valid_username("a:b"));
  EXPECT_FALSE(valid_username("a\nb"));
  EXPECT_FALSE(valid_username(std::string("a\0b", 3)));
}

class PasswordFileOnDisk : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/edgemq-auth-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/passwd";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_, path_;
};

TEST_F(PasswordFileOnDisk, SetUserAddsAndReplacesKeepingOtherLines) {
  {
    std::ofstream out(path_);
    out << "# users\n" << fast_line("bob", "b") << "\n";
  }
  ASSERT_EQ(set_user(path_, "alice", "one", min_iterations), "");
  ASSERT_EQ(set_user(path_, "alice", "two", min_iterations), "");
  const auto text = read(path_);
  EXPECT_TRUE(text.starts_with("# users\nbob:$pbkdf2-sha512$1000$")) << text;
  std::string why;
  auto f = password_file::load(path_, why);
  ASSERT_TRUE(f) << why;
  EXPECT_EQ(f->size(), 2u);
  EXPECT_TRUE(f->verify("alice", "two"));
  EXPECT_FALSE(f->verify("alice", "one"));
  EXPECT_TRUE(f->verify("bob", "b"));
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  for (const auto& e : std::filesystem::directory_iterator(dir_))  // no temporary file left behind
    EXPECT_EQ(e.path().filename(), "passwd");
}

TEST_F(PasswordFileOnDisk, SetUserCreatesTheFileAndRefusesBadNames) {
  EXPECT_NE(set_user(path_, "a:b", "x"), "");
  EXPECT_FALSE(std::filesystem::exists(path_));
  ASSERT_EQ(set_user(path_, "alice", "pw", min_iterations), "");
  std::string why;
  auto f = password_file::load(path_, why);
  ASSERT_TRUE(f) << why;
  EXPECT_TRUE(f->verify("alice", "pw"));
}

TEST_F(PasswordFileOnDisk, LoadSaysWhy) {
  std::string why;
  EXPECT_FALSE(password_file::load(path_, why));
  EXPECT_NE(why.find("cannot read password file"), std::string::npos) << why;
  {
    std::ofstream out(path_);
    out << fast_line("alice", "a") << "\ngarbage\n";
  }
  EXPECT_FALSE(password_file::load(path_, why));
  EXPECT_NE(why.find("line 2: "), std::string::npos) << why;
}

}  // namespace
}  // namespace edgemq::auth
