// SCRAM-SHA-256's server side against RFC 7677's test vector, and its refusals; the password
// file's SCRAM lines.
#include "auth/scram.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "auth/password_file.hpp"

namespace edgemq::auth {
namespace {

// RFC 7677 section 3.
constexpr std::string_view client_first = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
constexpr std::string_view server_nonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
constexpr std::string_view server_first =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
constexpr std::string_view client_final =
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
constexpr std::string_view server_final = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

scram_credentials pencil() {
  return make_scram_credentials("pencil", *base64_decode("W22ZaJ0SNY7soEsUEjb6gQ=="), 4096);
}

scram_server rfc_server() {
  return scram_server(
      [](std::string_view user) -> std::optional<scram_credentials> {
        if (user == "user") return pencil();
        return std::nullopt;
      },
      std::string(server_nonce));
}

TEST(Scram, Rfc7677ExchangeProducesTheRfcsMessages) {
  auto s = rfc_server();
  EXPECT_EQ(s.start(client_first), server_first) << s.error();
  EXPECT_EQ(s.finish(client_final), server_final) << s.error();
  EXPECT_EQ(s.user(), "user");
}

TEST(Scram, AWrongProofIsRefused) {
  auto s = rfc_server();
  ASSERT_TRUE(s.start(client_first));
  std::string bad(client_final);
  bad[bad.size() - 5] = bad[bad.size() - 5] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(s.finish(bad));
  EXPECT_NE(s.error().find("proof"), std::string::npos);
}

TEST(Scram, AnotherPasswordsProofIsRefused) {
  // The same exchange computed by a client that knows "pencil2": its proof does not match.
  auto creds = make_scram_credentials("pencil2", *base64_decode("W22ZaJ0SNY7soEsUEjb6gQ=="), 4096);
  auto s = scram_server([&](std::string_view) { return std::optional(creds); }, std::string(server_nonce));
  ASSERT_TRUE(s.start(client_first));
  EXPECT_FALSE(s.finish(client_final));
}

TEST(Scram, AnUnknownUserGetsAStableServerFirstAndFails) {
  auto a = rfc_server();
  auto b = rfc_server();
  const auto first_a = a.start("n,,n=mallory,r=abc");
  const auto first_b = b.start("n,,n=mallory,r=abc");
  ASSERT_TRUE(first_a);
  EXPECT_EQ(first_a, first_b);  // the same fake salt each time: nothing tells the user is unknown
  EXPECT_NE(first_a->find(",i=4096"), std::string::npos);
  EXPECT_FALSE(a.finish("c=biws,r=abc" + std::string(server_nonce) + ",p=" + base64_encode(std::string(32, 'x'))));
}

TEST(Scram, MalformedOrMismatchedMessagesAreRefused) {
  for (const std::string_view first : {"p=tls-unique,,n=user,r=x", "n,a=admin,n=user,r=x", "n,,r=x", "n,,n=user",
                                       "n,,m=ext,n=user,r=x", "n,,n=us=er,r=x", "x"}) {
    auto s = rfc_server();
    EXPECT_FALSE(s.start(first)) << first;
  }
  auto s = rfc_server();
  ASSERT_TRUE(s.start(client_first));
  EXPECT_FALSE(s.finish("c=biws,r=rOprNGfwEbeRWgbNEkqOtampered,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="));
  auto t = rfc_server();
  ASSERT_TRUE(t.start(client_first));
  EXPECT_FALSE(t.finish(std::string("c=eSws,") + std::string(client_final.substr(7))));  // "y,," binding
  auto u = rfc_server();
  EXPECT_FALSE(u.finish(client_final));  // no client-first
}

TEST(Scram, UserNamesAreDecoded) {
  std::string seen;
  scram_server s([&](std::string_view u) {
    seen = u;
    return std::optional(pencil());
  });
  ASSERT_TRUE(s.start("n,,n=a=2Cb=3Dc,r=nonce"));
  EXPECT_EQ(seen, "a,b=c");
}

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(ScramPasswordFile, ScramLinesSitBesideThePbkdf2Line) {
  const auto line = make_scram_line("alice", "pencil", 4096);
  EXPECT_TRUE(line.starts_with("alice:$scram-sha-256$4096$")) << line;
  std::vector<line_error> errors;
  auto f = password_file::parse(make_line("alice", "pw", min_iterations) + "\n" + line + "\n", errors);
  ASSERT_TRUE(f) << errors.front().message;
  EXPECT_EQ(f->size(), 1u);
  EXPECT_EQ(f->scram_size(), 1u);
  const auto c = f->scram("alice");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->stored_key, make_scram_credentials("pencil", c->salt, 4096).stored_key);
  EXPECT_FALSE(f->scram("bob"));
  EXPECT_TRUE(f->verify("alice", "pw"));  // the PBKDF2 line still decides username/password
}

TEST(ScramPasswordFile, BadScramLinesAreReported) {
  for (const std::string& bad : {std::string("a:$scram-sha-256$4096$c2FsdHNhbHQ=$AAAA"),
                                 "a:$scram-sha-256$100$c2FsdHNhbHQ=$" + base64_encode(std::string(32, 'k')) + "$" +
                                     base64_encode(std::string(32, 'k')),
                                 std::string("a:$scram-sha-256$4096$c2FsdHNhbHQ=$AAAA$AAAA")}) {
    std::vector<line_error> errors;
    EXPECT_FALSE(password_file::parse(bad + "\n", errors)) << bad;
    ASSERT_EQ(errors.size(), 1u);
  }
  std::vector<line_error> errors;
  const auto l = make_scram_line("a", "x", 4096);
  EXPECT_FALSE(password_file::parse(l + "\n" + l + "\n", errors));
}

TEST(ScramPasswordFile, SetUserWritesOrDropsTheScramLine) {
  const auto dir = std::filesystem::temp_directory_path() / ("edgemq-scram-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto path = (dir / "passwords").string();
  ASSERT_EQ(set_user(path, "bob", "x", min_iterations), "");
  ASSERT_EQ(set_user(path, "alice", "pencil", min_iterations, true), "");
  std::string why;
  auto f = password_file::load(path, why);
  ASSERT_TRUE(f) << why;
  EXPECT_TRUE(f->scram("alice"));
  EXPECT_EQ(f->scram("alice")->iterations, scram_min_iterations);  // at least RFC 7677's 4096
  EXPECT_FALSE(f->scram("bob"));
  // A new password without --scram removes the old SCRAM line (it would still accept "pencil").
  ASSERT_EQ(set_user(path, "alice", "other", min_iterations), "");
  f = password_file::load(path, why);
  ASSERT_TRUE(f) << why;
  EXPECT_FALSE(f->scram("alice"));
  EXPECT_TRUE(f->verify("alice", "other"));
  EXPECT_TRUE(f->verify("bob", "x"));
  EXPECT_EQ(read(path).find("$scram-sha-256$"), std::string::npos);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace edgemq::auth
