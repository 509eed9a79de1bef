#!/usr/bin/env bash
# Re-creates the captures in this folder from the running kernel (root, Debian 12):
#   tests/data/capture.sh OUTDIR
# Three namespaces client — router — server on veth pairs (10.77.1.0/24, fd77:1::/64 and
# 10.77.2.0/24, fd77:2::/64), the seed's LOG rule on INPUT, OUTPUT and FORWARD in each (prefix
# names the host), a REJECT --reject-with tcp-reset on the router for port 7005, then every
# kind of reset in IPv4 and IPv6 (tests/support/provoke_reset.py). Writes the kernel's lines
# through each envelope: /dev/kmsg records, dmesg, dmesg -r, dmesg -T. TAG=name sets the tag,
# PREFIX=text one LOG prefix for every host instead.
set -euo pipefail
out=${1:?OUTDIR}
here=$(cd "$(dirname "$0")/.." && pwd)
py="python3 $here/support/provoke_reset.py"
t=${TAG:-cap$$}  # the LOG prefix is "[$t" plus c, r or s
c=$t-c r=$t-r s=$t-s
cleanup() { for n in $c $r $s; do ip netns del $n 2>/dev/null || true; done; }
trap cleanup EXIT
sysctl -qw net.netfilter.nf_log_all_netns=1
for n in $c $r $s; do ip netns add $n; ip -n $n link set lo up; done
ip link add c0 netns $c type veth peer name r1 netns $r
ip link add r2 netns $r type veth peer name s0 netns $s
for pair in "$c c0 10.77.1.2/24 fd77:1::2/64" "$r r1 10.77.1.1/24 fd77:1::1/64" \
            "$r r2 10.77.2.1/24 fd77:2::1/64" "$s s0 10.77.2.2/24 fd77:2::2/64"; do
  set -- $pair
  ip netns exec $1 sysctl -qw net.ipv6.conf.$2.accept_dad=0
  ip -n $1 addr add $3 dev $2; ip -n $1 addr add $4 dev $2 nodad; ip -n $1 link set $2 up
done
ip -n $c route add default via 10.77.1.1; ip -n $c -6 route add default via fd77:1::1
ip -n $s route add default via 10.77.2.1; ip -n $s -6 route add default via fd77:2::1
ip netns exec $r sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
opts="--log-level 7 --log-tcp-sequence --log-tcp-options --log-ip-options --log-uid"
for n in $c $r $s; do
  role=${n##*-}
  for ipt in iptables ip6tables; do
    for chain in INPUT OUTPUT FORWARD; do
      mac=""; [[ $role == r && $chain == FORWARD ]] && mac="--log-macdecode"
      ip netns exec $n $ipt -A $chain -p tcp -m tcp --tcp-flags RST RST \
        -j LOG --log-prefix "${PREFIX:-[$t$role] }" $opts $mac
    done
  done
done
ip netns exec $r iptables -A FORWARD -p tcp --dport 7005 --syn -j REJECT --reject-with tcp-reset
ip netns exec $r ip6tables -A FORWARD -p tcp --dport 7005 --syn -j REJECT --reject-with tcp-reset
start=$(($(cut -d' ' -f1 /proc/uptime | tr -d .)))
port=7000
for dst in 10.77.2.2 fd77:2::2; do
  for mode in closed server-abort client-abort unread rejected; do
    port=$((port + 1)); p=$port; [[ $mode == rejected ]] && p=7005
    rm -f /tmp/$t.ready
    if [[ $mode != closed && $mode != rejected ]]; then
      ip netns exec $s $py serve $dst $p $mode /tmp/$t.ready &
      for _ in $(seq 100); do [[ -e /tmp/$t.ready ]] && break; sleep 0.05; done
    fi
    ip netns exec $c $py client $dst $p $mode
    wait
  done
done
rm -f /tmp/$t.ready
sleep 0.5
timeout 1 cat /dev/kmsg | grep -a "\[$t" > "$out/kmsg.txt" || true
dmesg | grep -a "\[$t" > "$out/dmesg.txt"
dmesg -r | grep -a "\[$t" > "$out/dmesg-r.txt"
dmesg -T | grep -a "\[$t" > "$out/dmesg-T.txt"
echo "$t" > "$out/tag"
wc -l "$out"/*.txt
