#!/usr/bin/env bash
# Entry of the development MA130 container (ops/ma130/Dockerfile).
set -euo pipefail
if [ -f /keys/ma130_host_ed25519_key ]; then
  install -m 600 /keys/ma130_host_ed25519_key /etc/ssh/ssh_host_ed25519_key
  ssh-keygen -y -f /etc/ssh/ssh_host_ed25519_key >/etc/ssh/ssh_host_ed25519_key.pub
elif [ ! -f /etc/ssh/ssh_host_ed25519_key ]; then
  ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key
fi
# Only the Ed25519 host key: it is the one TradeSage pins (and ssh2 prefers).
sed -i 's/^#\?HostKey .*//' /etc/ssh/sshd_config
echo 'HostKey /etc/ssh/ssh_host_ed25519_key' >>/etc/ssh/sshd_config
NO_INSTALL=1 NO_RELOAD=1 bash /usr/local/sbin/setup_ma130.sh /keys/ma130_rsa.pub
exec /usr/sbin/sshd -D -e
