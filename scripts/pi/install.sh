#!/usr/bin/env bash
# Installs one HSM device (hot or cold) as a systemd service on Raspberry Pi OS, from this
# checkout (docs/raspberry-pi.md walks through the whole machine):
#
#   sudo scripts/pi/install.sh --role cold --profile rpi4-cold-sim800c
#
# It checks Node, installs the production dependencies (building dist/ first when the tree
# has no compiled code), creates the service user (in the dialout group), the state directory
# (mode 0700), copies the profile to /etc/hsm/<role>.json, and installs the udev rules and the
# unit hsm-<role>.service (enabled, started).
#
# Options:
#   --role hot|cold        the device to install (required)
#   --profile NAME|FILE    a shipped profile (hw-profiles/profiles/) or a profile file (required)
#   --user NAME            the service user (default hsm)
#   --replace-profile      overwrite an existing /etc/hsm/<role>.json
#   --no-start             enable the service but do not start it
#   --skip-npm             do not run npm ci (dependencies already installed)
#   --root DIR             install the files into DIR instead of / (a staging tree for packaging
#                          and checks): no user, no ownership, no udevadm or systemctl
set -euo pipefail

MIN_NODE=20.15.0

role=""
profile=""
user="hsm"
root=""
replace_profile=0
start=1
npm_ci=1

die() {
  echo "install.sh: $*" >&2
  exit 1
}

usage() {
  sed -n '2,22s/^# \{0,1\}//p' "$0"
}

while [ $# -gt 0 ]; do
  case "$1" in
    --role) role="${2:-}"; shift 2 ;;
    --profile) profile="${2:-}"; shift 2 ;;
    --user) user="${2:-}"; shift 2 ;;
    --root) root="${2:-}"; shift 2 ;;
    --replace-profile) replace_profile=1; shift ;;
    --no-start) start=0; shift ;;
    --skip-npm) npm_ci=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option $1" ;;
  esac
done

case "$role" in
  hot|cold) ;;
  *) die "--role must be hot or cold" ;;
esac
[ -n "$profile" ] || die "--profile is required (a name from hw-profiles/profiles/ or a file)"
[[ "$user" =~ ^[a-z_][a-z0-9_-]{0,31}$ ]] || die "--user must be a plain user name"
if [ -n "$root" ]; then
  [ -d "$root" ] || die "--root $root is not a directory"
  root="$(cd "$root" && pwd)"
else
  [ "$(id -u)" -eq 0 ] || die "run as root (sudo), or stage the files with --root DIR"
fi

prefix="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
pi="$prefix/scripts/pi"

# Node: the firmware needs 20.15 or newer (zlib.crc32).
node_bin="$(command -v node || true)"
[ -n "$node_bin" ] || die "node is not installed; install Node.js $MIN_NODE or newer (docs/raspberry-pi.md)"
node_version="$("$node_bin" -p 'process.versions.node')"
if ! "$node_bin" -e '
  const [a, b] = [process.argv[1], process.argv[2]].map((v) => v.split(".").map(Number));
  process.exit(a[0] !== b[0] ? (a[0] > b[0] ? 0 : 1) : a[1] !== b[1] ? (a[1] > b[1] ? 0 : 1) : a[2] >= b[2] ? 0 : 1);
' "$node_version" "$MIN_NODE"; then
  die "Node $node_version is too old; $MIN_NODE or newer is needed"
fi
echo "node $node_version at $node_bin"

# The profile: valid, describing this device, and not the simulated machine.
if [ -f "$profile" ]; then profile_file="$(cd "$(dirname "$profile")" && pwd)/$(basename "$profile")"; else profile_file="$prefix/hw-profiles/profiles/$profile.json"; fi
[ -f "$profile_file" ] || die "no profile $profile (see: node $prefix/bin/hsm.mjs profile list)"

# The code runs compiled (dist/, `npm run build`). A tree built elsewhere brings it along and
# needs only the production dependencies; a bare clone is built here first.
if [ "$npm_ci" -eq 1 ]; then
  if [ -f "$prefix/dist/scripts/hsm.js" ]; then
    echo "installing production dependencies"
    (cd "$prefix" && npm ci --omit=dev --no-audit --no-fund)
  else
    echo "no compiled code in dist/: installing every dependency to build it, then removing the development ones"
    (cd "$prefix" && npm ci --no-audit --no-fund && npm prune --omit=dev --no-audit --no-fund)
  fi
fi

"$node_bin" "$prefix/bin/hsm.mjs" profile check "$profile_file" --role "$role" >/dev/null || die "the profile is not usable (see above)"
profile_field() {
  "$node_bin" -e '
    const p = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const value = process.argv[2].split(".").reduce((v, k) => (v == null ? v : v[k]), p);
    process.stdout.write(value == null ? "" : String(value));
  ' "$profile_file" "$1"
}
[ "$(profile_field board)" != "sim" ] || die "the simulated profile runs with 'hsm $role --profile sim', not as a service"
state_dir="$(profile_field "$role.stateDir")"
[ -n "$state_dir" ] || die "the profile has no $role.stateDir"

# The service user, allowed to use serial ports.
if [ -z "$root" ]; then
  if ! id -u "$user" >/dev/null 2>&1; then
    echo "creating the system user $user"
    useradd --system --user-group --home-dir "$(dirname "$state_dir")" --no-create-home --shell /usr/sbin/nologin "$user"
  fi
  usermod -a -G dialout "$user"
fi

# The state directory: the service user's alone.
install -d -m 0755 "$root$(dirname "$state_dir")"
if [ -z "$root" ]; then
  install -d -m 0700 -o "$user" -g "$user" "$root$state_dir"
else
  install -d -m 0700 "$root$state_dir"
fi
chmod 0700 "$root$state_dir"
echo "state directory $state_dir (mode 0700)"

# The profile, where the unit reads it.
install -d -m 0755 "$root/etc/hsm"
installed_profile="/etc/hsm/$role.json"
if [ -e "$root$installed_profile" ] && [ "$replace_profile" -eq 0 ]; then
  echo "keeping the existing $installed_profile (--replace-profile overwrites it)"
else
  install -m 0644 "$profile_file" "$root$installed_profile"
  echo "profile $installed_profile"
fi

# udev: stable names under /dev/hsm/, ModemManager kept off.
install -d -m 0755 "$root/etc/udev/rules.d"
install -m 0644 "$pi/77-hsm.rules" "$root/etc/udev/rules.d/77-hsm.rules"
if [ -z "$root" ] && command -v udevadm >/dev/null; then
  udevadm control --reload-rules
  udevadm trigger --subsystem-match=tty --subsystem-match=usb
fi
echo "udev rules /etc/udev/rules.d/77-hsm.rules"

# The unit.
unit="hsm-$role.service"
install -d -m 0755 "$root/etc/systemd/system"
sed -e "s#@NODE@#$node_bin#g" \
    -e "s#@PREFIX@#$prefix#g" \
    -e "s#@USER@#$user#g" \
    -e "s#@STATE_DIR@#$state_dir#g" \
    -e "s#@PROFILE@#$installed_profile#g" \
    "$pi/$unit" > "$root/etc/systemd/system/$unit"
chmod 0644 "$root/etc/systemd/system/$unit"
if grep -q '@[A-Z_]*@' "$root/etc/systemd/system/$unit"; then die "a field of $unit was not filled in"; fi
echo "unit /etc/systemd/system/$unit"

if [ -n "$root" ]; then
  echo "staged under $root"
  exit 0
fi

if systemctl is-active --quiet ModemManager 2>/dev/null; then
  echo "note: ModemManager runs; the udev rules keep it off the HSM's ports (or: sudo apt purge modemmanager)"
fi
systemctl daemon-reload
systemctl enable "$unit"
if [ "$start" -eq 1 ]; then
  systemctl restart "$unit"
  echo "started $unit"
fi
cat <<EOF

Check the machine with the service stopped:
  sudo systemctl stop $unit
  sudo $node_bin $prefix/bin/hsm.mjs doctor --profile $installed_profile --role $role --user $user
  sudo systemctl start $unit
EOF
