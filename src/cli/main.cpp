// edgemq-cli: a scriptable command-line client for the edgemq state store (and any broker
// speaking the AIO state store protocol).
//
//   edgemq-cli [--host H] [--port P] [--client-id ID] [--timeout SEC] [--hex] <command>
//     state set KEY VALUE [--nx|--nex] [--px MS] [--ft TOKEN]   prints the new version
//     state get KEY [--version]                                  prints the value
//     state del KEY [--ft TOKEN]
//     state vdel KEY VALUE [--ft TOKEN]
//     state watch KEY [--count N]                                prints SET/DELETE lines
//     lock acquire NAME --ttl MS [--holder H] [--wait]           prints the fencing token
//     lock release NAME [--holder H]
//     passwd FILE USER [--iterations N] [--scram]   password from stdin; adds/replaces USER's
//                                         line(s); --scram adds a SCRAM-SHA-256 line too
//
// VALUE "-" reads the value from stdin (binary-safe). The lock holder defaults to --client-id
// when given, else USER@HOSTNAME, so that a release without --holder releases what an acquire
// without --holder took. `state watch` runs until Ctrl-C (or --count) unless --timeout is given.
// Exit codes: 0 success, 1 not applied / miss / nothing deleted / lock held, 2 usage error (one
// line on stderr), 3 connection, timeout or protocol failure, 4 the store answered -ERR, 130
// interrupted.
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>
#include <pwd.h>
#include <unistd.h>

#include "auth/password_file.hpp"
#include "cli/session.hpp"
#include "cli/store_client.hpp"

namespace edgemq::cli {
namespace {

using kind = statestore::resp3::reply::kind;

struct global_options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 1883;
  std::string client_id;
  double timeout = 5.0;
  bool hex = false;
  std::string username;
  std::string password;
};

struct command_options {
  std::string key;
  std::string value;
  std::string fencing_token;
  std::string holder;
  bool nx = false;
  bool nex = false;
  bool show_version = false;
  bool wait = false;
  std::uint64_t px = 0;
  std::uint64_t ttl = 0;
  std::uint64_t count = 0;
  CLI::Option* px_opt = nullptr;
  CLI::Option* ft_opt = nullptr;
  CLI::Option* holder_opt = nullptr;
  CLI::Option* count_opt = nullptr;
};

std::optional<std::string> fencing(const command_options& c) {
  if (c.ft_opt && c.ft_opt->count() > 0) return c.fencing_token;
  return std::nullopt;
}

void out(std::string_view bytes) {
  std::fwrite(bytes.data(), 1, bytes.size(), stdout);
}

void out_line(std::string_view text) {
  out(text);
  out("\n");
  std::fflush(stdout);
}

std::string to_hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string s;
  s.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    s.push_back(digits[c >> 4]);
    s.push_back(digits[c & 0xF]);
  }
  return s;
}

std::string shown(std::string_view value, bool hex) {
  return hex ? to_hex(value) : std::string(value);
}

// USER@HOSTNAME: the same for every run of the same user on the same machine.
std::string default_holder() {
  std::string user;
  if (const passwd* pw = ::getpwuid(::geteuid()); pw && pw->pw_name)
    user = pw->pw_name;
  else if (const char* env = std::getenv("USER"))
    user = env;
  else
    user = "uid" + std::to_string(::geteuid());
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') std::snprintf(host, sizeof host, "localhost");
  return user + "@" + host;
}

// An integer option in [min, max]; the message names the option (CLI11 prefixes it) and the
// unit in plain words: "--ttl: must be between 1 and 31536000000 milliseconds, got 0".
CLI::Validator integer_between(std::uint64_t min, std::uint64_t max, const std::string& unit) {
  const auto range =
      "must be between " + std::to_string(min) + " and " + std::to_string(max) + (unit.empty() ? "" : " ") + unit;
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        std::uint64_t v = 0;
        const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
        if (ec != std::errc() || p != text.data() + text.size() || v < min || v > max) return range + ", got " + text;
        return {};
      },
      "");
}

CLI::Validator seconds_at_least_zero() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        char* end = nullptr;
        const double v = std::strtod(text.c_str(), &end);
        if (text.empty() || end != text.c_str() + text.size() || !(v >= 0) || v > 1e9)
          return "must be a number of seconds, 0 or more, got " + text;
        return {};
      },
      "");
}

constexpr std::uint64_t max_ms = 31'536'000'000;  // a year: --px and --ttl

void note(const std::string& text) {
  std::cerr << "edgemq-cli: " << text << std::endl;
}

int service_error(const store_reply& r) {
  note("state store error: " + r.value.text);
  return exit_service_error;
}

[[noreturn]] void unexpected(const char* what) {
  throw cli_error(exit_failure, std::string("unexpected reply to ") + what);
}

std::string read_stdin() {
  std::string data;
  char buf[64 * 1024];
  for (;;) {
    const auto n = std::fread(buf, 1, sizeof buf, stdin);
    data.append(buf, n);
    if (n < sizeof buf) {
      if (std::ferror(stdin)) throw cli_error(exit_usage, "cannot read the value from stdin");
      break;
    }
  }
  return data;
}

// ------------------------------------------------------------------ commands

int cmd_set(store_client& sc, const global_options&, const command_options& c, deadline d) {
  std::vector<std::string_view> parts{"SET", c.key, c.value};
  if (c.nx) parts.emplace_back("NX");
  if (c.nex) parts.emplace_back("NEX");
  const std::string px = std::to_string(c.px);
  if (c.px_opt->count() > 0) {
    parts.emplace_back("PX");
    parts.emplace_back(px);
  }
  const auto r = sc.invoke(parts, fencing(c), d);
  if (r.value.type == kind::error) return service_error(r);
  if (r.value.type == kind::integer && r.value.number == -1) {
    note("not applied: the key exists" + std::string(c.nex ? " with a different value" : ""));
    return exit_not_applied;
  }
  if (r.value.type != kind::simple || r.value.text != "OK") unexpected("SET");
  if (!r.version) throw cli_error(exit_failure, "the state store's SET reply has no version (__ts)");
  out_line(*r.version);
  return exit_ok;
}

int cmd_get(store_client& sc, const global_options& g, const command_options& c, deadline d) {
  const auto r = sc.invoke({"GET", c.key}, std::nullopt, d);
  if (r.value.type == kind::error) return service_error(r);
  if (r.value.type == kind::null) {
    note("key not found");
    return exit_not_applied;
  }
  if (r.value.type != kind::bulk) unexpected("GET");
  if (g.hex) {
    out_line(to_hex(r.value.text));
  } else {
    // Raw bytes, exactly; a newline only for a terminal or when a second line follows.
    out(r.value.text);
    if (c.show_version || ::isatty(STDOUT_FILENO)) out("\n");
  }
  if (c.show_version) out_line(r.version.value_or(""));
  std::fflush(stdout);
  return exit_ok;
}

int cmd_del(store_client& sc, const global_options&, const command_options& c, deadline d, bool vdel) {
  const auto r = vdel ? sc.invoke({"VDEL", c.key, c.value}, fencing(c), d) : sc.invoke({"DEL", c.key}, fencing(c), d);
  if (r.value.type == kind::error) return service_error(r);
  if (r.value.type != kind::integer) unexpected(vdel ? "VDEL" : "DEL");
  if (r.value.number == 1) return exit_ok;
  note(r.value.number == 0 ? "key not found" : "not deleted: the value does not match");
  return exit_not_applied;
}

// `d` bounds registering the watch; `until` the watch itself (nullopt: until Ctrl-C or --count).
int cmd_watch(store_client& sc, const global_options& g, const command_options& c, deadline d, deadline until) {
  const bool counted = c.count_opt->count() > 0;
  sc.watch(c.key, d);
  std::cerr << "watching " << c.key << std::endl;  // readiness: the watch is registered
  std::uint64_t seen = 0;
  try {
    for (;;) {
      auto n = sc.next_notification(until);
      if (!n) {
        if (!counted) return exit_ok;  // ran for the whole --timeout
        throw cli_error(exit_failure, "timed out after " + std::to_string(seen) + " of " + std::to_string(c.count) +
                                          " notifications");
      }
      if (n->op == key_notification::kind::set)
        out_line("SET " + shown(n->value, g.hex) + " " + n->version);
      else
        out_line("DELETE " + n->version);
      if (counted && ++seen >= c.count) return exit_ok;
    }
  } catch (const interrupted_error&) {
    if (!counted) return exit_ok;  // Ctrl-C is the normal end of an open-ended watch
    throw;
  }
}

int cmd_lock_acquire(store_client& sc, const std::string& holder, const command_options& c, deadline d) {
  const std::string ttl = std::to_string(c.ttl);
  const std::vector<std::string_view> parts{"SET", c.key, holder, "NEX", "PX", ttl};
  // Register the watch before the first attempt, so a release between a failed attempt and
  // the wait cannot be missed.
  if (c.wait) sc.watch(c.key, d);
  bool announced = false;
  for (;;) {
    const auto r = sc.invoke(parts, std::nullopt, d);
    if (r.value.type == kind::error) return service_error(r);
    if (r.value.type == kind::simple && r.value.text == "OK") {
      if (!r.version) throw cli_error(exit_failure, "the state store's reply has no fencing token (__ts)");
      out_line(*r.version);
      note("lock " + c.key + " acquired by holder '" + holder + "'");  // what `lock release --holder` needs
      return exit_ok;
    }
    if (r.value.type != kind::integer || r.value.number != -1) unexpected("SET NEX");
    if (!c.wait) {
      note("lock " + c.key + " is held by another holder");
      return exit_not_applied;
    }
    if (!announced) {
      note("lock " + c.key + " is held by another holder; waiting");
      announced = true;
    }
    for (;;) {
      auto n = sc.next_notification(d);
      if (!n) {
        note("timed out waiting for lock " + c.key);
        return exit_not_applied;
      }
      if (n->op == key_notification::kind::del && n->key == c.key) break;
    }
  }
}

int cmd_lock_release(store_client& sc, const std::string& holder, const command_options& c, deadline d) {
  const auto r = sc.invoke({"VDEL", c.key, holder}, std::nullopt, d);
  if (r.value.type == kind::error) return service_error(r);
  if (r.value.type != kind::integer) unexpected("VDEL");
  if (r.value.number == 1) return exit_ok;
  note(r.value.number == 0 ? "lock " + c.key + " is not held"
                           : "lock " + c.key + " is held by another holder than '" + holder + "'");
  return exit_not_applied;
}

// Works on the file only; never connects. The password is one line of standard input (so it is
// not in the process list or the shell history); exit 2 for a bad user name or empty password,
// 3 when the file cannot be written.
int cmd_passwd(const std::string& file, const std::string& user, std::uint32_t iterations, bool scram) {
  std::string why;
  if (!auth::valid_username(user, &why)) {
    note("passwd: " + why);
    return exit_usage;
  }
  std::string password;
  std::getline(std::cin, password);
  if (!password.empty() && password.back() == '\r') password.pop_back();
  if (password.empty()) {
    note("passwd: no password on standard input (one line expected)");
    return exit_usage;
  }
  if (auto err = auth::set_user(file, user, password, iterations, scram); !err.empty()) {
    note("passwd: " + err);
    return exit_failure;
  }
  return exit_ok;
}

// ------------------------------------------------------------------ main

int run(int argc, char** argv) {
  global_options g;
  command_options c;

  CLI::App app{
      "Command-line client for the edgemq state store.\n"
      "Exit codes: 0 success, 1 not applied / not found / lock held, 2 usage error,\n"
      "3 connection, timeout or protocol failure, 4 error reply from the store, 130 interrupted.",
      "edgemq-cli"};
  app.fallthrough();  // global options are accepted after the command too
  app.require_subcommand(1);
  app.add_option("--host", g.host, "Broker host")->capture_default_str();
  app.add_option("--port", g.port, "Broker port")->capture_default_str()->check(integer_between(1, 65535, ""));
  app.add_option("--client-id", g.client_id, "MQTT client id (default: edgemq-cli-<random>)");
  app.add_option("-u,--username", g.username, "User name, for a broker with a password file");
  app.add_option("-P,--password", g.password,
                 "Password (visible to other local users in the process list: prefer the EDGEMQ_PASSWORD "
                 "environment variable)");
  auto* timeout_opt = app.add_option("--timeout", g.timeout,
                                     "Seconds for the whole command; 0 waits forever. `state watch` runs until "
                                     "Ctrl-C (or --count) unless --timeout is given")
                          ->capture_default_str()
                          ->check(seconds_at_least_zero());
  app.add_flag("--hex", g.hex, "Print values as hex");

  const auto value_help = "Value; '-' reads it from stdin";
  const auto ft_help = "Fencing token (an HLC such as a lock's token)";
  auto add_ft = [&](CLI::App* sub) { return sub->add_option("--ft", c.fencing_token, ft_help); };

  auto* state = app.add_subcommand("state", "Key/value operations");
  state->require_subcommand(1);
  auto* set = state->add_subcommand("set", "SET KEY VALUE; prints the new version");
  set->add_option("KEY", c.key, "Key")->required();
  set->add_option("VALUE", c.value, value_help)->required();
  auto* nx = set->add_flag("--nx", c.nx, "Only if the key does not exist");
  auto* nex = set->add_flag("--nex", c.nex, "Only if the key does not exist or holds VALUE");
  nx->excludes(nex);
  nex->excludes(nx);
  c.px_opt = set->add_option("--px", c.px, "Expiry in milliseconds")->check(integer_between(1, max_ms, "milliseconds"));
  auto* set_ft = add_ft(set);

  auto* get = state->add_subcommand("get", "GET KEY; prints the value");
  get->add_option("KEY", c.key, "Key")->required();
  get->add_flag("--version,--show-version", c.show_version, "Also print the version on a second line");

  auto* del = state->add_subcommand("del", "DEL KEY");
  del->add_option("KEY", c.key, "Key")->required();
  auto* del_ft = add_ft(del);

  auto* vdel = state->add_subcommand("vdel", "VDEL KEY VALUE: delete only if the key holds VALUE");
  vdel->add_option("KEY", c.key, "Key")->required();
  vdel->add_option("VALUE", c.value, value_help)->required();
  auto* vdel_ft = add_ft(vdel);

  auto* watch = state->add_subcommand("watch",
                                      "KEYNOTIFY KEY; prints 'SET <value> <version>' / 'DELETE <version>'. "
                                      "Runs until Ctrl-C (exit 0), --count notifications or an explicit "
                                      "--timeout");
  watch->add_option("KEY", c.key, "Key")->required();
  c.count_opt = watch
                    ->add_option("--count", c.count,
                                 "Exit after N notifications (else run until Ctrl-C or an explicit --timeout)")
                    ->check(integer_between(1, 1'000'000'000, "notifications"));

  auto* lock = app.add_subcommand("lock", "Leased locks over the store");
  lock->require_subcommand(1);
  const auto holder_help =
      "Holder (default: --client-id if given, else USER@HOSTNAME, here '" + default_holder() + "')";
  auto* acquire =
      lock->add_subcommand("acquire", "SET NAME HOLDER NEX PX TTL; prints the fencing token (the holder on stderr)");
  acquire->add_option("NAME", c.key, "Lock name (a key)")->required();
  c.holder_opt = acquire->add_option("--holder", c.holder, holder_help);
  acquire->add_option("--ttl", c.ttl, "Lease in milliseconds")
      ->required()
      ->check(integer_between(1, max_ms, "milliseconds"));
  acquire->add_flag("--wait", c.wait, "Wait (up to --timeout) until the lock is free");

  auto* release = lock->add_subcommand("release", "VDEL NAME HOLDER");
  release->add_option("NAME", c.key, "Lock name (a key)")->required();
  auto* release_holder = release->add_option("--holder", c.holder, holder_help);

  std::string pw_file, pw_user;
  std::uint32_t pw_iterations = auth::default_iterations;
  auto* passwd = app.add_subcommand("passwd",
                                    "Add USER to the password FILE, or replace its password, with the password read "
                                    "from standard input (one line); the file is replaced atomically, mode 0600");
  passwd->add_option("FILE", pw_file, "Password file (created if missing)")->required();
  passwd->add_option("USER", pw_user, "User name (no ':')")->required();
  passwd->add_option("--iterations", pw_iterations, "PBKDF2-HMAC-SHA512 iterations")
      ->capture_default_str()
      ->check(integer_between(auth::min_iterations, auth::max_iterations, "iterations"));
  bool pw_scram = false;
  passwd->add_flag("--scram", pw_scram,
                   "also write a SCRAM-SHA-256 line (StoredKey/ServerKey, PBKDF2-HMAC-SHA256 with the same "
                   "iterations, at least 4096), so the user can log in with enhanced authentication SCRAM-SHA-256");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // One line naming the option and the problem (not CLI11's two).
    std::string what = e.what();
    for (auto& ch : what)
      if (ch == '\n') ch = ' ';
    if (const auto extra = app.remaining(true); !extra.empty()) {  // say what was not understood
      what = "unknown option or argument:";
      for (const auto& x : extra) what += " " + x;
    }
    if (what == "A subcommand is required") what = "a command is required";
    note(what + " (see edgemq-cli --help)");
    return exit_usage;
  }
  if (passwd->parsed()) return cmd_passwd(pw_file, pw_user, pw_iterations, pw_scram);
  // Options that several commands define: use the instance of the command that was given.
  if (release->parsed()) c.holder_opt = release_holder;
  if (set->parsed())
    c.ft_opt = set_ft;
  else if (del->parsed())
    c.ft_opt = del_ft;
  else if (vdel->parsed())
    c.ft_opt = vdel_ft;

  try {
    if (g.client_id.empty() && app.get_option("--client-id")->count() == 0) g.client_id = "edgemq-cli-" + random_hex(4);
    if ((set->parsed() || vdel->parsed()) && c.value == "-") c.value = read_stdin();
    if (c.ft_opt && c.ft_opt->count() > 0 && !statestore::hlc::parse(c.fencing_token))
      throw cli_error(exit_usage, "--ft: not an HLC timestamp (expected WALLMS:COUNTER:NODE)");

    deadline d;
    if (g.timeout > 0)
      d = steady::now() + std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(g.timeout));
    const bool explicit_timeout = timeout_opt->count() > 0;

    session s;
    connect_options co;
    co.host = g.host;
    co.port = g.port;
    co.client_id = g.client_id;
    if (!g.username.empty()) co.username = g.username;
    if (!g.password.empty())
      co.password = g.password;
    else if (const char* env = std::getenv("EDGEMQ_PASSWORD"); env && !g.username.empty())
      co.password = env;
    s.connect(co, d);
    store_client sc(s, d);

    int rc = exit_ok;
    if (set->parsed())
      rc = cmd_set(sc, g, c, d);
    else if (get->parsed())
      rc = cmd_get(sc, g, c, d);
    else if (del->parsed())
      rc = cmd_del(sc, g, c, d, false);
    else if (vdel->parsed())
      rc = cmd_del(sc, g, c, d, true);
    else if (watch->parsed())
      rc = cmd_watch(sc, g, c, d, explicit_timeout ? d : deadline{});
    else if (acquire->parsed() || release->parsed()) {
      const std::string holder = c.holder_opt->count() > 0 ? c.holder
                                 : !g.client_id.empty() && app.get_option("--client-id")->count() > 0
                                     ? g.client_id
                                     : default_holder();
      rc = acquire->parsed() ? cmd_lock_acquire(sc, holder, c, d) : cmd_lock_release(sc, holder, c, d);
    }
    s.disconnect();
    return rc;
  } catch (const cli_error& e) {
    note(e.what());
    return e.code;
  } catch (const interrupted_error&) {
    note("interrupted");
    return exit_interrupted;
  } catch (const std::exception& e) {
    note(e.what());
    return exit_failure;
  }
}

}  // namespace
}  // namespace edgemq::cli

int main(int argc, char** argv) {
  return edgemq::cli::run(argc, argv);
}
