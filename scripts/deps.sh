#!/usr/bin/env bash
# Installs nerc's build and test dependencies from Debian (12, bookworm) when missing.
# Run as root (or with sudo available). Safe to run again: installs only what is absent.
set -euo pipefail
pkgs=(make gcc clang libclang-rt-14-dev libomp-dev libdnnl-dev libjansson-dev libonig-dev
      libcurl4-openssl-dev libssl-dev libmicrohttpd-dev pkg-config
      nodejs)
missing=()
pkgs+=(openmpi-bin libopenmpi-dev) # make MPI=1 (mpirun -np N nerc ...) and its tests
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "nerc: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
