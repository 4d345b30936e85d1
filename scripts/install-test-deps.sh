#!/usr/bin/env bash
# Installs the Debian packages the tests need when they are missing: Chromium for the web
# console tests (driven by playwright-core; never a browser download of its own); BIND (`named`)
# and PowerDNS, the real DNS servers the RFC 2136 traffic switch is tested against; arping for
# the shared-IP switch's gratuitous ARP; Prometheus (and promtool) and rsyslog with its TLS driver,
# the real servers the metrics, alert rules and syslog forwarding are tested against;
# HAProxy in front of a pair, checking /health/primary; systemd-analyze to verify the service
# unit `appliance install-service` writes; what the netns lab runs (below).
set -euo pipefail

need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -x /usr/sbin/named ] || need+=(bind9)
[ -x /usr/sbin/pdns_server ] || need+=(pdns-server)
[ -e /usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql ] || need+=(pdns-backend-sqlite3)
command -v arping >/dev/null 2>&1 || need+=(iputils-arping)
[ -x /usr/bin/prometheus ] && [ -x /usr/bin/promtool ] || need+=(prometheus)
[ -x /usr/sbin/rsyslogd ] || need+=(rsyslog)
[ -x /usr/sbin/haproxy ] || need+=(haproxy)
dpkg -s rsyslog-gnutls >/dev/null 2>&1 || need+=(rsyslog-gnutls)
# openssl makes the test CAs of the CA-verified syslog case.
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
# The netns lab (docs/lab.md): namespaces, bridges and veths, nftables NAT and faults, conntrack
# flushes, BIND's tools for the DNS swing, keepalived as the failover benchmark's anchor.
[ -x /usr/sbin/ip ] || [ -x /sbin/ip ] || need+=(iproute2)
command -v nft >/dev/null 2>&1 || [ -x /usr/sbin/nft ] || need+=(nftables)
command -v conntrack >/dev/null 2>&1 || [ -x /usr/sbin/conntrack ] || need+=(conntrack)
command -v dig >/dev/null 2>&1 || need+=(dnsutils)
[ -x /usr/sbin/keepalived ] || need+=(keepalived)
# Latency faults: iptables' NFQUEUE target and scripts/lab-delayer.py (no netem in every kernel).
command -v iptables-nft >/dev/null 2>&1 || [ -x /usr/sbin/iptables-nft ] || need+=(iptables)
command -v python3 >/dev/null 2>&1 || need+=(python3)
# The relay and sync benchmarks' anchors (ssh -L, rsync over SSH; also scripts/install-bench-deps.sh).
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh >/dev/null 2>&1 || need+=(openssh-client)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi

echo "install-test-deps: installing ${need[*]} from Debian" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-test-deps: need root (or sudo) to install: ${need[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
