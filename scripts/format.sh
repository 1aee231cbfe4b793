#!/usr/bin/env bash
# Formats the C++ files under src/, include/ and tests/ in place with clang-format 14 and
# .clang-format (the style scripts/check-format.sh checks).
#
#   scripts/format.sh            every file
#   scripts/format.sh FILE...    only these (paths relative to the repository root)
set -euo pipefail
# shellcheck source=scripts/format-common.sh
source "$(dirname "$0")/format-common.sh"

cf="$(pick_clang_format)" || exit 2
cd "$repo_root"
mapfile -t files < <(list_cpp_files "$@")
[ ${#files[@]} -eq 0 ] && exit 0
printf '%s\0' "${files[@]}" | xargs -0 -n 50 "$cf" --style=file -i
echo "format: ${#files[@]} files formatted with $("$cf" --version | sed 's/.*version //')"
