#!/usr/bin/env bash
# bedtools is needed by pybedtools. Install it from Debian/Ubuntu packages when we can, else say how.
set -euo pipefail
if command -v bedtools >/dev/null 2>&1; then exit 0; fi
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "installing bedtools (Debian package)..." >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bedtools >/dev/null
  exit 0
fi
if command -v apt-get >/dev/null 2>&1 && command -v sudo >/dev/null 2>&1; then
  sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bedtools >/dev/null
  exit 0
fi
echo "factornet setup: error: bedtools is missing; install it (apt-get install bedtools, conda install -c bioconda bedtools, or brew install bedtools) and run again" >&2
exit 2
