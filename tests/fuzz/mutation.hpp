// Deterministic input mutation for the fuzz bodies' replay tests (generated_inputs_test,
// corpus_replay_test): what libFuzzer would try, without libFuzzer, on every build.
#pragma once

#include <random>
#include <string>
#include <vector>

namespace edgemq::fuzz {

// One to four of: a bit flip, a truncation, an inserted byte, an overwritten byte, or (with
// `seeds`) another seed spliced in.
inline std::string mutate(std::string s, std::mt19937& rng, const std::vector<std::string>& seeds) {
  const int n = 1 + static_cast<int>(rng() % 4);
  for (int i = 0; i < n; ++i) {
    const std::size_t at = s.empty() ? 0 : rng() % s.size();
    switch (rng() % (seeds.empty() ? 4 : 5)) {
      case 0:
        if (!s.empty()) s[at] = static_cast<char>(s[at] ^ (1 << (rng() % 8)));
        break;
      case 1:
        s.resize(at);
        break;
      case 2:
        s.insert(at, 1, static_cast<char>(rng()));
        break;
      case 3:
        if (!s.empty()) s[at] = static_cast<char>(rng());
        break;
      case 4:
        s.insert(at, seeds[rng() % seeds.size()]);
        break;
    }
  }
  return s;
}

// Up to `max_size - 1` random bytes.
inline std::string noise(std::mt19937& rng, std::size_t max_size) {
  std::string s(rng() % max_size, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

}  // namespace edgemq::fuzz
