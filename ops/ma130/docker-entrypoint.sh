#!/usr/bin/env bash
# Entry of the development MA130 container (ops/ma130/Dockerfile).
# Host key, in order: a fixed one mounted at /keys/ma130_host_ed25519_key; the one kept in the
# /hostkey volume from an earlier start; else a new one, kept there. Its public half stays in
# /hostkey/ssh_host_ed25519_key.pub, which docker-compose's tenants services mount read-only and pin
# (MA130_HOST_PUBLIC_KEY_PATH).
set -euo pipefail
mkdir -p /hostkey
if [ -f /keys/ma130_host_ed25519_key ]; then
  install -m 600 /keys/ma130_host_ed25519_key /hostkey/ssh_host_ed25519_key
elif [ ! -f /hostkey/ssh_host_ed25519_key ]; then
  ssh-keygen -q -t ed25519 -N '' -C ma130 -f /hostkey/ssh_host_ed25519_key
fi
chmod 600 /hostkey/ssh_host_ed25519_key
install -m 600 /hostkey/ssh_host_ed25519_key /etc/ssh/ssh_host_ed25519_key
ssh-keygen -y -f /etc/ssh/ssh_host_ed25519_key >/etc/ssh/ssh_host_ed25519_key.pub
cp /etc/ssh/ssh_host_ed25519_key.pub /hostkey/ssh_host_ed25519_key.pub
chmod 644 /hostkey/ssh_host_ed25519_key.pub
# Only the Ed25519 host key: it is the one TradeSage pins (and ssh2 prefers).
sed -i 's/^#\?HostKey .*//' /etc/ssh/sshd_config
echo 'HostKey /etc/ssh/ssh_host_ed25519_key' >>/etc/ssh/sshd_config
NO_INSTALL=1 NO_RELOAD=1 bash /usr/local/sbin/setup_ma130.sh /keys/ma130_rsa.pub
mkdir -p /run/sshd
exec /usr/sbin/sshd -D -e
