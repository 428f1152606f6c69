#!/usr/bin/env bash
# Prepares an MA130 backup host (Debian/Ubuntu) for TradeSage, as the integration guide describes:
#   - the account `tradesage_backup` (no password, no shell), SFTP only (ForceCommand internal-sftp),
#     key authentication only, no forwarding, no TTY;
#   - /data/tradesage/backups owned by it (mode 750);
#   - the TradeSage backup public key in its authorized_keys (with `restrict`);
#   - prints the host key fingerprint to pin in TradeSage as MA130_HOST_KEY_SHA256.
# Idempotent: run it again to change the key or after an upgrade.
#
# Usage (as root on the MA130):
#   sudo bash setup_ma130.sh [path/to/ma130_rsa.pub]
# Environment overrides: BACKUP_USER (tradesage_backup), BACKUP_ROOT (/data/tradesage/backups),
#   SSHD_DROPIN (/etc/ssh/sshd_config.d/tradesage-backup.conf), NO_RELOAD=1 (do not reload sshd),
#   NO_INSTALL=1 (do not apt-get install openssh-server).
#
# No ChrootDirectory on purpose: TradeSage addresses files by the same absolute path on both sides
# (MA130_BACKUP_PATH), and the SFTP-only account cannot run commands or forward ports anyway. Add a
# chroot if the MA130 serves other tenants of its own (then MA130_BACKUP_PATH becomes chroot-relative).
set -euo pipefail

BACKUP_USER=${BACKUP_USER:-tradesage_backup}
BACKUP_ROOT=${BACKUP_ROOT:-/data/tradesage/backups}
SSHD_DROPIN=${SSHD_DROPIN:-/etc/ssh/sshd_config.d/tradesage-backup.conf}
PUBKEY_FILE=${1:-}

if [ "$(id -u)" -ne 0 ]; then
  echo 'error: run as root (sudo bash setup_ma130.sh ...)' >&2
  exit 1
fi
case "$BACKUP_ROOT" in
  /*) ;;
  *) echo "error: BACKUP_ROOT must be absolute: $BACKUP_ROOT" >&2; exit 1 ;;
esac
if ! [[ "$BACKUP_USER" =~ ^[a-z_][a-z0-9_-]{0,31}$ ]]; then
  echo "error: invalid BACKUP_USER: $BACKUP_USER" >&2
  exit 1
fi

echo "==> openssh-server"
if ! command -v sshd >/dev/null 2>&1 && [ ! -x /usr/sbin/sshd ]; then
  if [ "${NO_INSTALL:-0}" = 1 ]; then
    echo 'error: sshd is missing and NO_INSTALL=1' >&2
    exit 1
  fi
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y openssh-server
fi
mkdir -p /run/sshd

echo "==> account $BACKUP_USER"
home=/var/lib/$BACKUP_USER
if ! id "$BACKUP_USER" >/dev/null 2>&1; then
  useradd --system --create-home --home-dir "$home" --shell /usr/sbin/nologin \
    --comment 'TradeSage backups (SFTP only)' "$BACKUP_USER"
fi
home=$(getent passwd "$BACKUP_USER" | cut -d: -f6)
# '*': no password can ever match, yet the account is not "locked" ('!'), which sshd would refuse
# for key logins when PAM is off.
usermod -p '*' "$BACKUP_USER"

echo "==> $BACKUP_ROOT"
mkdir -p "$BACKUP_ROOT"
chown "$BACKUP_USER:$BACKUP_USER" "$BACKUP_ROOT"
chmod 750 "$BACKUP_ROOT"

echo "==> authorized key"
install -d -m 700 -o "$BACKUP_USER" -g "$BACKUP_USER" "$home/.ssh"
auth="$home/.ssh/authorized_keys"
touch "$auth"
if [ -n "$PUBKEY_FILE" ]; then
  key=$(grep -E '^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) ' "$PUBKEY_FILE" | head -n1)
  if [ -z "$key" ]; then
    echo "error: $PUBKEY_FILE holds no OpenSSH public key" >&2
    exit 1
  fi
  # `restrict`: no forwarding, no PTY, no ~/.ssh/rc, whatever sshd_config says.
  line="restrict $key"
  if ! grep -qxF "$line" "$auth"; then echo "$line" >>"$auth"; fi
else
  echo "    (no key file given: add TradeSage's keys/ma130_rsa.pub to $auth yourself, prefixed with 'restrict ')"
fi
chown "$BACKUP_USER:$BACKUP_USER" "$auth"
chmod 600 "$auth"

echo "==> sshd drop-in $SSHD_DROPIN"
mkdir -p "$(dirname "$SSHD_DROPIN")"
# ForceCommand internal-sftp still needs an sftp subsystem to be defined (Debian defines one).
subsystem=''
if ! sshd -T 2>/dev/null | grep -qi '^subsystem sftp'; then subsystem='Subsystem sftp internal-sftp'; fi
rm -f "$SSHD_DROPIN"
cat >"$SSHD_DROPIN" <<EOF
# TradeSage backup account (ops/ma130/setup_ma130.sh): key-only, SFTP-only.
$subsystem
Match User $BACKUP_USER
    AuthenticationMethods publickey
    PasswordAuthentication no
    KbdInteractiveAuthentication no
    ForceCommand internal-sftp -u 0027
    AllowTcpForwarding no
    AllowAgentForwarding no
    AllowStreamLocalForwarding no
    X11Forwarding no
    PermitTTY no
    PermitTunnel no
EOF
chmod 644 "$SSHD_DROPIN"
if ! grep -Eq '^[[:space:]]*Include[[:space:]]+/etc/ssh/sshd_config\.d/\*\.conf' /etc/ssh/sshd_config 2>/dev/null &&
  [ "$SSHD_DROPIN" = "/etc/ssh/sshd_config.d/tradesage-backup.conf" ]; then
  # Older sshd_config without the drop-in folder: include it at the top (Include must precede Match).
  sed -i '1i Include /etc/ssh/sshd_config.d/*.conf' /etc/ssh/sshd_config
fi
sshd -t

if [ "${NO_RELOAD:-0}" != 1 ]; then
  echo "==> reload sshd"
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet ssh 2>/dev/null; then
    systemctl reload ssh
  elif command -v service >/dev/null 2>&1; then
    service ssh reload || service ssh start
  else
    echo "    reload sshd yourself (no systemctl/service found)"
  fi
fi

echo "==> disk space of $BACKUP_ROOT"
df -h "$BACKUP_ROOT" | sed 's/^/    /'

echo
echo "Pin this host key in TradeSage (.env):"
for f in /etc/ssh/ssh_host_ed25519_key.pub /etc/ssh/ssh_host_ecdsa_key.pub /etc/ssh/ssh_host_rsa_key.pub; do
  if [ -f "$f" ]; then
    fp=$(ssh-keygen -lf "$f" -E sha256 | awk '{print $2}')
    echo "    MA130_HOST_KEY_SHA256=$fp    # $(basename "$f")"
    break
  fi
done
echo "    MA130_USERNAME=$BACKUP_USER"
echo "    MA130_BACKUP_PATH=$BACKUP_ROOT"
echo "Test from the TradeSage host: sftp -i keys/ma130_rsa $BACKUP_USER@<this host>"
