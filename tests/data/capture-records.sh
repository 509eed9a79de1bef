#!/usr/bin/env bash
# Re-creates tests/data/kmsg-records.txt: LOG records that are not resets, from the running
# kernel (root). Two namespaces a — b on a veth pair, LOG everything b receives and sends with
# --log-ip-options --log-tcp-options --log-uid, a MARK on b's output; then a UDP datagram
# to a closed port (the ICMP error quotes the datagram: "[SRC=... ]"), a TCP SYN, in IPv4 and
# IPv6; fragments of a large datagram; a UDP datagram logged by an nftables rule with a long
# prefix; a reset across a bridge with bridge netfilter (PHYSIN=, PHYSOUT=). Appends a non-LOG
# kernel record with its continuation lines from the ring buffer.
set -euo pipefail
out=${1:?OUTFILE}
t=${TAG:-rec$$}
a=$t-a b=$t-b
cleanup() { ip netns del $a 2>/dev/null || true; ip netns del $b 2>/dev/null || true; }
trap cleanup EXIT
sysctl -qw net.netfilter.nf_log_all_netns=1
ip netns add $a; ip netns add $b
ip link add va netns $a type veth peer name vb netns $b
for x in "$a va 10.78.0.1/24 fd78::1/64" "$b vb 10.78.0.2/24 fd78::2/64"; do
  set -- $x
  ip netns exec $1 sysctl -qw net.ipv6.conf.$2.accept_dad=0
  ip -n $1 addr add $3 dev $2; ip -n $1 addr add $4 dev $2 nodad; ip -n $1 link set $2 up
  ip -n $1 link set lo up
done
opts="--log-ip-options --log-tcp-options --log-uid"
for chain in INPUT OUTPUT; do
  ip netns exec $b iptables -A $chain -j LOG --log-prefix "[$t] " $opts
  for nd in neighbour-solicitation neighbour-advertisement; do
    ip netns exec $b ip6tables -A $chain -p ipv6-icmp --icmpv6-type $nd -j RETURN
  done
  ip netns exec $b ip6tables -A $chain -j LOG --log-prefix "[$t] " $opts
done
ip netns exec $b iptables -t mangle -A OUTPUT -j MARK --set-mark 0x2a
ip netns exec $b ip6tables -t mangle -A OUTPUT -j MARK --set-mark 0x2a
for dst in 10.78.0.2 fd78::2; do
  ip netns exec $a python3 -c "import socket,sys; s=socket.socket(socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b'x', (sys.argv[1], 9))" $dst
  ip netns exec $a python3 -c "import socket,sys; s=socket.socket(socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET); s.settimeout(1)
try: s.connect((sys.argv[1], 9))
except OSError: pass" $dst
done
# Fragments: a 3000-byte datagram over a 1280-byte MTU (IPv4 "MF", "FRAG:n"; IPv6 the
# fragment header inside "OPT ( FRAG:... ID:... ) " with --log-ip-options).
ip -n $a link set va mtu 1280; ip -n $b link set vb mtu 1280
for dst in 10.78.0.2 fd78::2; do
  ip netns exec $a python3 -c "import socket,sys; s=socket.socket(socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b'y' * 3000, (sys.argv[1], 11))" $dst
done
# nftables' log statement: a prefix of up to 127 bytes, with spaces.
long="nft $t prefix of many words that is longer than the 29 bytes iptables allows, up to the 127 of nft: "
ip netns exec $b nft add table inet $t
ip netns exec $b nft "add chain inet $t in { type filter hook input priority 0; }"
ip netns exec $b nft add rule inet $t in udp dport 12 log prefix "\"$long\""
ip netns exec $a python3 -c "import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'z', ('10.78.0.2', 12))"
# A bridge that hands its frames to iptables (bridge netfilter): FORWARD sees IN=br0 OUT=br0
# plus the ports, PHYSIN= and PHYSOUT=. A SYN to a closed port of b crosses it, and the RST back.
br=$t-br x=$t-x
ip netns add $br; ip netns add $x
ip -n $br link add br0 type bridge
ip link add p1 netns $br type veth peer name vx netns $x
ip link add p2 netns $br type veth peer name vy netns $b
ip -n $br link set p1 master br0; ip -n $br link set p2 master br0
for l in br0 p1 p2 lo; do ip -n $br link set $l up; done
ip -n $x addr add 10.79.0.1/24 dev vx; ip -n $x link set vx up
ip -n $b addr add 10.79.0.2/24 dev vy; ip -n $b link set vy up
ip netns exec $br sysctl -qw net.bridge.bridge-nf-call-iptables=1
ip netns exec $br iptables -A FORWARD -p tcp -j LOG --log-prefix "[$t] " --log-tcp-sequence
ip netns exec $x python3 -c "import socket; s=socket.socket(); s.settimeout(2)
try: s.connect(('10.79.0.2', 13))
except OSError: pass"
sleep 0.3
ip netns del $br; ip netns del $x
{ timeout 1 cat /dev/kmsg | grep -a "\[$t\]\|nft $t"; timeout 1 cat /dev/kmsg | awk '/^ / {print prev; print; getline; print; exit} {prev = $0}'; } > "$out" || true
wc -l "$out"
