#!/bin/sh
# Re-pin the test bed to one kubernetes release: ./pin.sh v1.37.2
#
# k8s.io/kubernetes requires its staging modules (k8s.io/api, client-go,
# apiserver, kubelet, cri-streaming, ...) at v0.0.0 and replaces them with
# ./staging/src/... inside its own repo, so a module that imports it must
# replace each one with the published tag of the same release: v1.N.M <-> v0.N.M.
# The list is read from that release's own go.mod (the replace lines that point
# into ./staging), and so are its `go` and `godebug default=` lines.
set -eu
cd "$(dirname "$0")"
K=${1:?usage: pin.sh v1.N.M}
S=v0.${K#v1.}
mod=$(go mod download -json "k8s.io/kubernetes@$K" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p')
[ -f "$mod" ] || { echo "no go.mod for k8s.io/kubernetes@$K" >&2; exit 1; }
gov=$(awk '$1=="go"{print $2; exit}' "$mod")
dbg=$(awk '$1=="godebug" && $2 ~ /^default=/{print $2; exit}' "$mod")
for m in $(go mod edit -json | sed -n 's/.*"Path": "\(k8s\.io\/[^"]*\)".*/\1/p' | sort -u); do
  go mod edit -dropreplace="$m"
done
go mod edit -go="$gov" -require="k8s.io/kubernetes@$K"
[ -n "$dbg" ] && go mod edit -godebug="$dbg"
mods=$(awk '$2=="=>" && $3 ~ /^\.\/staging\// {print $1}' "$mod")
n=$(echo "$mods" | wc -w)
{
  echo
  echo "// Every k8s.io staging module that k8s.io/kubernetes requires at v0.0.0 (it"
  echo "// replaces them with ./staging/src/... in its own repo) pinned to the matching"
  echo "// published tag: kubernetes $K <-> staging $S. Regenerate with ./pin.sh."
  echo "replace ("
  for m in $mods; do printf '\t%s => %s %s\n' "$m" "$m" "$S"; done
  echo ")"
} >> go.mod
echo "k8s.io/kubernetes $K: $n staging modules replaced with $S (go $gov, godebug $dbg)"
go mod tidy
