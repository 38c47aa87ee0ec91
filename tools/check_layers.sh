#!/usr/bin/env bash
# `make layers`: fails on an #include that climbs the layer order of libnerc.
# A file of module A may include its own module's headers and those of modules
# of a LOWER rank; modules of the same rank are siblings and stay apart.
# Public headers count as their module (include/nerc/<name>.h -> module below).
# Usage: tools/check_layers.sh [ROOT]   (ROOT defaults to the repository root)
set -u
cd "${1:-$(dirname "$0")/..}"

# rank of each module, lowest first (the pipeline: text -> data -> model -> eval -> infer/train -> serve -> cli)
declare -A rank=(
  [core]=0
  [kernels]=1 [io]=1 [hub]=1 [dist]=1
  [text]=2 [metrics]=2
  [data]=3
  [model]=4
  [eval]=5
  [infer]=6 [train]=6
  [serve]=7
  [cli]=8
)
# public header -> module
declare -A header_module=(
  [common]=core [batch]=data [text]=text [data]=data [metrics]=metrics [model]=model [check]=model
  [eval]=eval [train]=train [predict]=infer [serve]=serve [hub]=hub [dist]=dist
)

module_of_include() { # "nerc/model.h" -> model, "model/config.h" -> model, "nerc.h" -> cli
  local inc=$1
  case "$inc" in
    nerc.h) echo cli ;;
    nerc/*) local h=${inc#nerc/}; h=${h%.h}; echo "${header_module[$h]:-?}" ;;
    */*) echo "${inc%%/*}" ;;
    *) echo "" ;;
  esac
}

module_of_file() { # src/model/x.c -> model, include/nerc/data.h -> data
  local f=$1
  case "$f" in
    include/nerc/*) local h=${f#include/nerc/}; h=${h%.h}; echo "${header_module[$h]:-?}" ;;
    include/nerc.h) echo cli ;;
    src/*) local m=${f#src/}; echo "${m%%/*}" ;;
  esac
}

# modules whose private headers (src/<module>/*.h) no other module may include:
# they are used through their public header only
sealed=" text metrics infer train serve cli "

bad=0; checked=0
while IFS= read -r f; do
  from=$(module_of_file "$f")
  if [ -z "${rank[$from]+x}" ]; then
    echo "$f: module '$from' has no rank in tools/check_layers.sh"; bad=$((bad+1)); continue
  fi
  while IFS=: read -r line inc; do
    to=$(module_of_include "$inc")
    [ -z "$to" ] && continue
    checked=$((checked+1))
    if [ -z "${rank[$to]+x}" ]; then
      echo "$f:$line: includes \"$inc\" of unknown module '$to'"; bad=$((bad+1)); continue
    fi
    if [ "$to" != "$from" ] && [[ "$inc" != nerc* ]] && [[ "$sealed" == *" $to "* ]]; then
      echo "$f:$line: $from includes \"$inc\", a private header of $to (use its public header)"
      bad=$((bad+1))
    elif [ "$to" != "$from" ] && [ "${rank[$to]}" -ge "${rank[$from]}" ]; then
      echo "$f:$line: $from (rank ${rank[$from]}) includes \"$inc\" of $to (rank ${rank[$to]}): climbs the layer order"
      bad=$((bad+1))
    fi
  done < <(grep -n '^#include "' "$f" | sed -E 's/^([0-9]+):#include "([^"]+)".*/\1:\2/')
done < <(find src include -name '*.[ch]' | sort)

if [ "$bad" -gt 0 ]; then
  echo "layers: $bad violation(s) in $checked project includes"
  exit 1
fi
echo "layers: $checked project includes respect the layer order"
