#!/usr/bin/env python3
"""Provokes TCP resets for capture.sh: `server V4 V6` in one namespace, `client V4 V6` in the
other. Ports: 7009 closed (refused), 7001 server aborts (SO_LINGER 0), 7002 client aborts,
7003 server closes with unread data, 7004 client sends after the server shut down both directions
(TCPAbortOnData), 7006 client sends after the server closed (the reset comes from TIME_WAIT),
7008 (IPv4 only) a dual-stack IPv6 listener aborts an IPv4 client (v4-mapped addresses).
`retransmit V4 V6 NS` connects to 7005 and sends while the server's link is down."""
import socket, struct, subprocess, sys, time

LINGER0 = struct.pack("ii", 1, 0)
FAMILIES = [(socket.AF_INET, 1), (socket.AF_INET6, 2)]


def listener(fam, addr, port):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if fam == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((addr, port))
    s.listen(4)
    return s


def server(v4, v6):
    every = {fam: {p: listener(fam, v4 if fam == socket.AF_INET else v6, p)
                   for p in (7001, 7002, 7003, 7004, 7006)} for fam, _ in FAMILIES}
    dual = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    dual.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    dual.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    dual.bind(("::", 7008))
    dual.listen(4)
    for fam, idx in FAMILIES:
        ls = every[fam]
        c, _ = ls[7001].accept(); c.recv(16)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER0); c.close()
        c, _ = ls[7002].accept()
        try:
            c.recv(16)
        except ConnectionResetError:
            pass
        c.close()
        c, _ = ls[7003].accept(); time.sleep(0.3); c.close()
        c, _ = ls[7004].accept(); c.shutdown(socket.SHUT_RDWR); time.sleep(0.4); c.close()
        c, _ = ls[7006].accept(); c.close()
        if fam == socket.AF_INET:
            c, _ = dual.accept(); c.recv(16)
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER0); c.close()


def client(v4, v6):
    time.sleep(0.2)
    for fam, idx in FAMILIES:
        addr = v4 if fam == socket.AF_INET else v6
        def conn(port):
            s = socket.socket(fam, socket.SOCK_STREAM)
            s.connect((addr, port))
            return s
        try:
            conn(7009)
        except ConnectionRefusedError:
            pass
        s = conn(7001); s.send(b"hello")
        try:
            s.recv(16)
        except ConnectionResetError:
            pass
        s.close()
        s = conn(7002); s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER0); s.close()
        s = conn(7003); s.send(b"unread"); time.sleep(0.5)
        try:
            s.recv(16)
        except ConnectionResetError:
            pass
        s.close()
        for port in (7004, 7006):
            s = conn(port); s.recv(16); time.sleep(0.1); s.send(b"late")
            time.sleep(0.1)
            try:
                s.recv(16)
            except ConnectionResetError:
                pass
            s.close()
        if fam == socket.AF_INET:
            s = conn(7008); s.send(b"hello")
            try:
                s.recv(16)
            except ConnectionResetError:
                pass
            s.close()
        time.sleep(0.3)


def retransmit(v4, v6, ns):
    for fam, addr in ((socket.AF_INET, v4), (socket.AF_INET6, v6)):
        # the server side lives in the other namespace: `ip netns exec` starts it there
        srv = subprocess.Popen(["ip", "netns", "exec", ns, "python3", "-c",
                                f"import socket,time;s=socket.socket({int(fam)});s.setsockopt(1,2,1);"
                                f"s.bind(('{addr}',7005));s.listen(1);c,_=s.accept();time.sleep(1.5)"])
        time.sleep(0.3)
        s = socket.socket(fam); s.connect((addr, 7005))
        subprocess.run(["ip", "-n", ns, "link", "set", "veth-a", "down"], check=True)
        s.send(b"x" * 100)
        time.sleep(0.8)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER0); s.close()
        subprocess.run(["ip", "-n", ns, "link", "set", "veth-a", "up"], check=True)
        srv.wait()


if __name__ == "__main__":
    {"server": server, "client": client, "retransmit": retransmit}[sys.argv[1]](*sys.argv[2:])
