#!/bin/sh
# Installs mlc as a systemd service: the binary, the unit, the mlc user, the data dir, and
# enables and (re)starts the service. Run it again with a newer binary to upgrade: it backs up
# the database first, then restarts the service, which migrates the data dir on start.
#
#   sudo scripts/install.sh [--binary PATH] [--no-start] [--dry-run]
#
#   --binary PATH  the executable to install (default: dist/mlc, or dist/mlc-linux-arm64 on arm64)
#   --no-start     enable the service but do not (re)start it
#   --dry-run      print every step, change nothing
#
# Environment:
#   DESTDIR   stage files under this folder instead of /; system commands (useradd, chown,
#             systemctl) are then printed, not run. For packaging and for tests.
#   PREFIX    where the binary goes (default /usr/local: /usr/local/bin/mlc)
#   MLC_USER  service user and group (default mlc)
#   DATA_DIR  the data dir (default /var/lib/mlc, systemd's StateDirectory)
set -eu

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
root=$(dirname -- "$here")
DESTDIR=${DESTDIR:-}
PREFIX=${PREFIX:-/usr/local}
MLC_USER=${MLC_USER:-mlc}
DATA_DIR=${DATA_DIR:-/var/lib/mlc}
binary=
start=1
dry_run=0

while [ $# -gt 0 ]; do
  case $1 in
    --binary) [ $# -ge 2 ] || { echo "install.sh: --binary needs a path" >&2; exit 2; }; binary=$2; shift 2 ;;
    --no-start) start=0; shift ;;
    --dry-run) dry_run=1; shift ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

if [ -z "$binary" ]; then
  case $(uname -m) in
    aarch64|arm64) binary=$root/dist/mlc-linux-arm64 ;;
    *) binary=$root/dist/mlc ;;
  esac
fi
if [ ! -x "$binary" ]; then
  echo "install.sh: $binary is not an executable; run 'npm run build' (or pass --binary)" >&2
  exit 1
fi
if ! version=$("$binary" version 2>/dev/null); then
  echo "install.sh: $binary does not run on this machine (wrong architecture?)" >&2
  exit 1
fi

# Files are written under DESTDIR; commands that change the system only run on a real install.
staged=0
[ -n "$DESTDIR" ] && staged=1

step() { echo "+ $*"; }
# Runs a file-writing command (under DESTDIR when staging), or prints it in a dry run.
files() {
  step "$@"
  [ "$dry_run" = 1 ] || "$@"
}
# Runs a command that changes the system (users, ownership, services); printed only when staging.
system() {
  step "$@"
  [ "$dry_run" = 1 ] || [ "$staged" = 1 ] || "$@"
}

bin_path=$PREFIX/bin/mlc
unit_path=/etc/systemd/system/mlc.service
env_path=/etc/mlc/mlc.env

echo "installing $version"

# 1. The service user: a system account without a login shell or a home of its own.
if [ "$staged" = 1 ] || ! getent passwd "$MLC_USER" >/dev/null 2>&1; then
  system useradd --system --user-group --home-dir "$DATA_DIR" --no-create-home --shell /usr/sbin/nologin "$MLC_USER"
fi

# 2. Before replacing a binary that already serves data: a backup, in case the upgrade goes wrong.
if [ "$staged" = 0 ] && [ -f "$DATA_DIR/mlc.db" ]; then
  backup=$DATA_DIR/backups/pre-upgrade-$(date -u +%Y%m%dT%H%M%SZ).db
  system install -d -m 0700 -o "$MLC_USER" -g "$MLC_USER" "$DATA_DIR/backups"
  system "$binary" backup "$backup" --data-dir "$DATA_DIR"
  system chown "$MLC_USER:$MLC_USER" "$backup"
fi

# 3. The binary, replaced atomically (a running server keeps its open copy until restarted).
files install -d -m 0755 "$DESTDIR$PREFIX/bin"
files install -m 0755 "$binary" "$DESTDIR$bin_path.new"
files mv -f "$DESTDIR$bin_path.new" "$DESTDIR$bin_path"

# 4. The unit, pointing at the installed binary.
files install -d -m 0755 "$DESTDIR/etc/systemd/system"
step "sed 's#/usr/local/bin/mlc#$bin_path#' $here/mlc.service > $DESTDIR$unit_path"
if [ "$dry_run" = 0 ]; then
  sed "s#/usr/local/bin/mlc#$bin_path#; s#/var/lib/mlc#$DATA_DIR#g; s#^User=mlc#User=$MLC_USER#; s#^Group=mlc#Group=$MLC_USER#" "$here/mlc.service" >"$DESTDIR$unit_path"
  chmod 0644 "$DESTDIR$unit_path"
fi

# 5. Settings file for MLC_* variables, created once and never overwritten.
files install -d -m 0755 "$DESTDIR/etc/mlc"
if [ ! -f "$DESTDIR$env_path" ]; then
  step "write $DESTDIR$env_path"
  if [ "$dry_run" = 0 ]; then
    cat >"$DESTDIR$env_path" <<'EOF'
# mlc settings, read by mlc.service. `mlc --help` lists every variable with its default.
# MLC_PORT=8080
# MLC_PUBLIC_URL=https://chat.example.com
# MLC_LOG_LEVEL=info
# MLC_METRICS_TOKEN=
EOF
    chmod 0640 "$DESTDIR$env_path"
  fi
  system chown "root:$MLC_USER" "$env_path"
fi

# 6. The data dir, private to the service user (it holds webhook and session secrets). systemd
#    creates it too (StateDirectory); making it here lets the CLI run first.
files install -d -m 0700 "$DESTDIR$DATA_DIR"
system chown "$MLC_USER:$MLC_USER" "$DATA_DIR"

# 7. Enable, and start (or restart onto the new binary).
system systemctl daemon-reload
system systemctl enable mlc.service
if [ "$start" = 1 ]; then
  system systemctl restart mlc.service
fi

cat <<EOF

mlc is installed: $bin_path, unit $unit_path, data $DATA_DIR.
  status:   systemctl status mlc; journalctl -u mlc -f
  a token:  sudo -u $MLC_USER MLC_DATA_DIR=$DATA_DIR $bin_path token create --site 1 --scopes read,write
  settings: $env_path, then systemctl restart mlc
EOF
