#!/usr/bin/env bash
# Captures real tcp/sock tracepoint lines from this kernel into this-kernel.txt, and the trace
# file's header and a trace_marker line into this-kernel-other.txt (run as root).
# It makes its own ftrace instance and two network namespaces joined by a veth pair, provokes
# each kind of reset over IPv4 and IPv6, reads the instance's trace buffer, and removes
# everything it made (instance, namespaces; tracefs is unmounted again if it mounted it).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
T=/sys/kernel/tracing
mounted=0
if [[ ! -e $T/instances ]]; then mount -t tracefs nodev $T; mounted=1; fi
I=$T/instances/rstwatch-capture-$$
A=rstw-cap-a-$$ B=rstw-cap-b-$$
cleanup() {
  for e in tcp/tcp_send_reset tcp/tcp_receive_reset sock/inet_sock_set_state \
           tcp/tcp_retransmit_skb tcp/tcp_destroy_sock tcp/tcp_probe; do
    [[ -e $I/events/$e/enable ]] && echo 0 > "$I/events/$e/enable"
  done
  [[ -d $I ]] && rmdir "$I"
  ip netns del "$A" 2>/dev/null || true
  ip netns del "$B" 2>/dev/null || true
  if ((mounted)); then umount $T; fi
}
trap cleanup EXIT
mkdir "$I"
ip netns add "$A"; ip netns add "$B"
ip -n "$A" link set lo up; ip -n "$B" link set lo up
ip link add veth-a netns "$A" type veth peer name veth-b netns "$B"
ip -n "$A" addr add 10.231.47.1/24 dev veth-a; ip -n "$A" addr add fd5e:e47a::1/64 dev veth-a nodad
ip -n "$B" addr add 10.231.47.2/24 dev veth-b; ip -n "$B" addr add fd5e:e47a::2/64 dev veth-b nodad
ip netns exec "$A" sysctl -qw net.ipv6.conf.veth-a.keep_addr_on_down=1
ip -n "$A" link set veth-a up; ip -n "$B" link set veth-b up
for e in tcp/tcp_send_reset tcp/tcp_receive_reset sock/inet_sock_set_state \
         tcp/tcp_retransmit_skb tcp/tcp_destroy_sock tcp/tcp_probe; do
  echo 1 > "$I/events/$e/enable"
done
provoke=$here/../../support/provoke_reset.py
ip netns exec "$A" python3 "$provoke" capture-server 10.231.47.1 fd5e:e47a::1 &
server=$!
sleep 0.5
ip netns exec "$B" python3 "$provoke" capture-client 10.231.47.1 fd5e:e47a::1
wait "$server"
ip netns exec "$B" python3 "$provoke" capture-retransmit 10.231.47.1 fd5e:e47a::1 "$A"
echo "rstwatch capture marker" > "$I/trace_marker"
# With options/record-tgid on while events are enabled, the kernel records the TGID of tasks as
# they are scheduled: a marker from a task that slept since then gets a numeric TGID column.
echo 1 > "$I/options/record-tgid"
sh -c "sleep 0.2; echo 'rstwatch capture marker, TGID recorded' > $I/trace_marker"
echo 0 > "$I/options/record-tgid"
sleep 0.2
for e in tcp/tcp_send_reset tcp/tcp_receive_reset sock/inet_sock_set_state \
         tcp/tcp_retransmit_skb tcp/tcp_destroy_sock tcp/tcp_probe; do
  echo 0 > "$I/events/$e/enable"
done
# Tracepoints are kernel-wide and other people's namespaces may trace at the same time: a line
# is kept when it names one of our addresses and no address of anyone else's.
ours() {
  python3 -c '
import re, sys
ours = {"10.231.47.1", "10.231.47.2", "fd5e:e47a::1", "fd5e:e47a::2"}
blank = {"0.0.0.0", "::", "127.0.0.6", "::ffff:0.0.0.0", "127.0.0.1", "::ffff:127.0.0.1"}
for line in sys.stdin:
    found = {a[7:] if a.startswith("::ffff:") and a[7:] in ours else a
             for a in re.findall(r"(?:saddr|daddr|saddrv6|daddrv6)=(\S+)", line)}
    found |= {(m.group(1) or m.group(2)).removeprefix("::ffff:")
              for m in re.finditer(r"(?:src|dest)=(?:\[([^]]+)\]|([0-9.]+)):\d+", line)}
    if found & ours and found <= ours | blank:
        sys.stdout.write(line)
'
}
grep -v '^#' "$I/trace" | ours > "$here/this-kernel.txt"
# The header and the trace_marker line.
{ grep '^#' "$I/trace"; grep 'tracing_mark_write' "$I/trace"; } > "$here/this-kernel-other.txt"
# The trace file is formatted when it is read, with the options of that moment: the marker and
# the first reset lines again, with the TGID column (options/record-tgid; "(-------)" for
# events from before it was on), then also without the irq flags (options/irq-info).
echo 1 > "$I/options/record-tgid"
{ grep 'tracing_mark_write' "$I/trace"; grep '_reset: ' "$I/trace" | grep '10\.231\.47\.' | head -2
  echo 0 > "$I/options/irq-info"
  grep 'tracing_mark_write' "$I/trace"; grep '_reset: ' "$I/trace" | grep '10\.231\.47\.' | head -2
  echo 1 > "$I/options/irq-info"
} > "$here/this-kernel-tgid.txt"
echo 0 > "$I/options/record-tgid"
echo "$(wc -l < "$here/this-kernel.txt") lines from $(uname -r) in $here/this-kernel.txt" >&2
