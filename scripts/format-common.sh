# shellcheck shell=bash
# Shared by check-format.sh and format.sh (sourced, not run): picks clang-format 14 and lists the
# C++ files under src/, include/ and tests/ that .clang-format governs.
#
# Formatting differs between clang-format versions, so one version is the reference: Debian 12's
# clang-format 14 (`apt-get install clang-format-14`). CLANG_FORMAT=/path overrides the choice.

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

pick_clang_format() {
  if [ -n "${CLANG_FORMAT:-}" ]; then
    if ! "$CLANG_FORMAT" --version 2>/dev/null | grep -q "clang-format version"; then
      echo "CLANG_FORMAT=$CLANG_FORMAT does not run as clang-format" >&2
      return 1
    fi
    echo "$CLANG_FORMAT"
    return
  fi
  local c
  for c in clang-format-14 clang-format; do
    if command -v "$c" >/dev/null && "$c" --version | grep -q "version 14\."; then
      command -v "$c"
      return
    fi
  done
  echo "clang-format 14 not found (apt-get install clang-format-14, or set CLANG_FORMAT)" >&2
  return 1
}

# The files named on the command line, or every C++ source and header under src/, include/ and
# tests/ (tracked or new, not ignored; without git, every such file on disk). Paths relative to
# the repository root, one per line.
list_cpp_files() {
  if [ $# -gt 0 ]; then
    printf '%s\n' "$@"
    return
  fi
  local patterns=('*.cpp' '*.hpp' '*.h' '*.cc' '*.hh' '*.cxx' '*.ipp')
  if git -C "$repo_root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    local pathspecs=()
    local dir p
    for dir in src include tests; do
      for p in "${patterns[@]}"; do pathspecs+=("$dir/$p"); done
    done
    git -C "$repo_root" ls-files --cached --others --exclude-standard -- "${pathspecs[@]}" |
      while IFS= read -r f; do [ -f "$repo_root/$f" ] && printf '%s\n' "$f"; done | sort -u
  else
    local names=()
    for p in "${patterns[@]}"; do names+=(-o -name "$p"); done
    (cd "$repo_root" && find src include tests -type f \( "${names[@]:1}" \) | sort)
  fi
}
