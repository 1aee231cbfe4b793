#!/usr/bin/env bash
# Checks that the C++ files under src/, include/ and tests/ are formatted as .clang-format says
# (clang-format 14, --dry-run -Werror). Prints each file that differs and exits 1 if any does;
# exits 0 when all are formatted, 2 when clang-format 14 is missing or fails.
#
#   scripts/check-format.sh              every file
#   scripts/check-format.sh --diff       also show what would change
#   scripts/check-format.sh FILE...      only these (paths relative to the repository root)
#
# scripts/format.sh rewrites the files in place.
set -euo pipefail
# shellcheck source=scripts/format-common.sh
source "$(dirname "$0")/format-common.sh"

show_diff=0
if [ "${1:-}" = "--diff" ]; then
  show_diff=1
  shift
fi
cf="$(pick_clang_format)" || exit 2
cd "$repo_root"

mapfile -t files < <(list_cpp_files "$@")
differ=()
for f in "${files[@]}"; do
  # A formatting difference is reported as -Wclang-format-violations; anything else (a missing
  # file, a broken clang-format) is an error, not a difference.
  if ! out="$("$cf" --style=file --dry-run -Werror "$f" 2>&1 >/dev/null)"; then
    if ! grep -q "clang-format-violations" <<<"$out"; then
      printf 'check-format: clang-format failed on %s:\n%s\n' "$f" "$out" >&2
      exit 2
    fi
    differ+=("$f")
  fi
done

if [ ${#differ[@]} -eq 0 ]; then
  echo "check-format: ${#files[@]} files formatted ($("$cf" --version | sed 's/.*version //'))"
  exit 0
fi
for f in "${differ[@]}"; do
  echo "$f"
  if [ $show_diff -eq 1 ]; then
    "$cf" --style=file "$f" | diff -u --label "$f" --label "$f (formatted)" "$f" - || true
  fi
done
echo "check-format: ${#differ[@]} of ${#files[@]} files differ from .clang-format; run scripts/format.sh" >&2
exit 1
