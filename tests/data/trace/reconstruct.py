#!/usr/bin/env python3
"""Writes kernel-<version>.txt: one line per traced event as kernel <version> prints it, rebuilt
from that version's TP_printk strings (include/trace/events/tcp.h, sock.h) and its
trace_print_context() layout, for one connection 10.0.0.1:8080 <-> 10.0.0.2:40000 (and
[fd00::1]:8080 <-> [fd00::2]:40000 over IPv6). Lines: send v4, receive v4, send v6, receive v6,
inet_sock_set_state, tcp_retransmit_skb, tcp_destroy_sock, tcp_probe."""

V4 = dict(s="10.0.0.1", d="10.0.0.2", s6="::ffff:10.0.0.1", d6="::ffff:10.0.0.2")
# An AF_INET6 socket's inet_saddr/inet_daddr hold LOOPBACK4_IPV6 (127.0.0.6).
V6 = dict(s="127.0.0.6", d="127.0.0.6", s6="fd00::1", d6="fd00::2")
# family= came to the tcp events with 3dd344ea84e1 "net: tracepoint: exposing sk_family in all
# tcp:tracepoints" (posted January 2021: 5.12).
NO_FAMILY = ("4.19", "5.4", "5.10")
FOUR_FLAGS = ("4.19", "5.4", "5.10")  # migrate-disable, the 5th flag, came in 5.14


def ctx(version, comm, pid, cpu, flags, ts):
    width = 5 if version in FOUR_FLAGS else 7
    return f"{comm:>16}-{pid:<{width}d} [{cpu:03d}] {flags} {ts}: "


def sk(a, fam, version):
    family = "" if version in NO_FAMILY else f"family={fam} "
    return (f"{family}sport=8080 dport=40000 saddr={a['s']} daddr={a['d']} "
            f"saddrv6={a['s6']} daddrv6={a['d6']}")


def skb(a, fam, version):
    body = sk(a, fam, version)
    # state= came with af4325ecc24f "tcp: expose sk_state in tcp_retransmit_skb tracepoint"
    # (after 4.19, before 5.3; printed with a stray "\n" until dd3d792def0d, 5.4-rc). "skbaddr=%p skaddr=%p" were
    # put first in March 2024 (6.9): none of these versions prints them.
    if version != "4.19":
        body += " state=TCP_ESTABLISHED"
    return body


def probe(version):
    family = "" if version in NO_FAMILY else "family=AF_INET "
    body = (f"{family}src=10.0.0.1:8080 dest=10.0.0.2:40000 mark=0x0 data_len=0 "
            "snd_nxt=0x9a3b1c2d snd_una=0x9a3b1c2d snd_cwnd=10 ssthresh=2147483647 "
            "snd_wnd=65536 srtt=120 rcv_wnd=65536 sock_cookie=5dd")
    return body  # " skbaddr=%p skaddr=%p" were appended in March 2024 (6.9)


for version in ("4.19", "5.4", "5.10", "5.15", "6.1", "6.6"):
    four = version in FOUR_FLAGS
    fl = lambda f4, f5: f4 if four else f5
    lines = [
        ctx(version, "nginx", 2817, 1, fl("....", "....."), "4123.000100") + "tcp_send_reset: " + skb(V4, "AF_INET", version),
        ctx(version, "<idle>", 0, 0, fl("..s.", "..s1."), "4123.000200") + "tcp_receive_reset: " + sk(V4, "AF_INET", version) + " sock_cookie=5dd",
        ctx(version, "nginx", 2817, 1, fl("....", "....."), "4123.000300") + "tcp_send_reset: " + skb(V6, "AF_INET6", version),
        ctx(version, "<idle>", 0, 0, fl("..s.", "..s1."), "4123.000400") + "tcp_receive_reset: " + sk(V6, "AF_INET6", version) + " sock_cookie=5de",
        ctx(version, "<idle>", 0, 0, fl(".Ns.", ".Ns1."), "4123.000500") + "inet_sock_set_state: family=AF_INET protocol=IPPROTO_TCP " + sk(V4, "", "4.19") + " oldstate=TCP_ESTABLISHED newstate=TCP_CLOSE",
        ctx(version, "<idle>", 0, 1, fl("..s.", "..s1."), "4123.000600") + "tcp_retransmit_skb: " + skb(V4, "AF_INET", version),
        ctx(version, "C2 CompilerThre", 543, 1, fl("....", "....."), "4123.000700") + "tcp_destroy_sock: " + sk(V4, "AF_INET", version) + " sock_cookie=5dd",
        ctx(version, "<idle>", 0, 0, fl("..s.", "..s1."), "4123.000800") + "tcp_probe: " + probe(version),
    ]
    with open(f"kernel-{version}.txt", "w") as f:
        f.write("\n".join(lines) + "\n")
