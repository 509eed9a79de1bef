#!/usr/bin/env python3
"""Provoke one TCP reset of a chosen kind, for the kernel-log scenarios (no socat needed).

  provoke_reset.py serve  ADDR PORT MODE READY_FILE   # in the server namespace, one connection
  provoke_reset.py client ADDR PORT MODE              # in the client namespace

MODE (the same on both sides):
  closed        no server runs; the client's SYN meets a closed port, the server's kernel resets
  server-abort  the server accepts, sets SO_LINGER 0 and closes: the server sends the RST
  client-abort  the client connects, sets SO_LINGER 0 and closes: the client sends the RST
  unread        the client sends data the server never reads; the server closes: RST from server
  rejected      the router answers the SYN with REJECT --reject-with tcp-reset (no server runs)
The server writes READY_FILE once it listens, so the client never races it; every step that
waits has a deadline so a broken network fails the scenario instead of hanging it.

The tracepoint capture (tests/data/trace/capture.sh, and the live trace scenario) runs a fixed
sequence over IPv4 and IPv6 instead, one server and one client for all of it:

  provoke_reset.py capture-server V4 V6        # in one namespace
  provoke_reset.py capture-client V4 V6        # in the other
  provoke_reset.py capture-retransmit V4 V6 NS # in the client's; NS is the server's namespace

Ports: 7009 closed (refused), 7001 server aborts (SO_LINGER 0), 7002 client aborts, 7003 server
closes with unread data, 7004 client sends after the server shut down both directions
(TCPAbortOnData), 7006 client sends after the server closed (the reset comes from TIME_WAIT),
7008 (IPv4 only) a dual-stack IPv6 listener aborts an IPv4 client (v4-mapped addresses), 7005
the client sends while the server's link (veth-a) is down, then aborts.
"""
import os
import socket
import struct
import subprocess
import sys
import time

DEADLINE = 5.0


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def abort(sock):
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def serve(addr, port, mode, ready):
    srv = socket.socket(family(addr), socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, port))
    srv.listen(1)
    srv.settimeout(DEADLINE)
    with open(ready, "w") as f:
        f.write("ready\n")
    conn, _ = srv.accept()
    conn.settimeout(DEADLINE)
    if mode == "server-abort":
        abort(conn)
    elif mode == "unread":
        # Wait until the client's bytes are in our receive buffer, without reading them.
        end = time.monotonic() + DEADLINE
        while time.monotonic() < end:
            if len(conn.recv(64, socket.MSG_PEEK)) > 0:
                break
        conn.close()
    elif mode == "client-abort":
        try:
            conn.recv(64)  # returns with ECONNRESET when the client's RST arrives
        except OSError:
            pass
        conn.close()
    srv.close()


def client(addr, port, mode):
    s = socket.socket(family(addr), socket.SOCK_STREAM)
    s.settimeout(DEADLINE)
    try:
        s.connect((addr, port))
    except ConnectionRefusedError:
        if mode in ("closed", "rejected"):
            print("refused")
            return 0
        raise
    if mode == "client-abort":
        abort(s)
        print("aborted")
        return 0
    if mode == "unread":
        s.sendall(b"bytes the server never reads\n")
    try:
        while s.recv(64):
            pass
        print("closed")
    except ConnectionResetError:
        print("reset")
    s.close()
    return 0


FAMILIES = (socket.AF_INET, socket.AF_INET6)


def listener(fam, addr, port, v6only=True):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if fam == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1 if v6only else 0)
    s.bind((addr, port))
    s.listen(4)
    return s


def until_reset(sock):
    try:
        sock.recv(16)
    except ConnectionResetError:
        pass


def capture_server(v4, v6):
    every = {fam: {p: listener(fam, v4 if fam == socket.AF_INET else v6, p)
                   for p in (7001, 7002, 7003, 7004, 7006)} for fam in FAMILIES}
    dual = listener(socket.AF_INET6, "::", 7008, v6only=False)
    for fam in FAMILIES:
        ls = every[fam]
        c, _ = ls[7001].accept(); c.recv(16); abort(c)
        c, _ = ls[7002].accept(); until_reset(c); c.close()
        c, _ = ls[7003].accept(); time.sleep(0.3); c.close()
        c, _ = ls[7004].accept(); c.shutdown(socket.SHUT_RDWR); time.sleep(0.4); c.close()
        c, _ = ls[7006].accept(); c.close()
        if fam == socket.AF_INET:
            c, _ = dual.accept(); c.recv(16); abort(c)


def capture_client(v4, v6):
    time.sleep(0.2)
    for fam in FAMILIES:
        addr = v4 if fam == socket.AF_INET else v6

        def conn(port):
            s = socket.socket(fam, socket.SOCK_STREAM)
            s.connect((addr, port))
            return s
        try:
            conn(7009)
        except ConnectionRefusedError:
            pass
        s = conn(7001); s.send(b"hello"); until_reset(s); s.close()
        s = conn(7002); abort(s)
        s = conn(7003); s.send(b"unread"); time.sleep(0.5); until_reset(s); s.close()
        for port in (7004, 7006):
            s = conn(port); s.recv(16); time.sleep(0.1); s.send(b"late")
            time.sleep(0.1)
            until_reset(s)
            s.close()
        if fam == socket.AF_INET:
            s = conn(7008); s.send(b"hello"); until_reset(s); s.close()
        time.sleep(0.3)


def capture_retransmit(v4, v6, ns):
    for fam, addr in ((socket.AF_INET, v4), (socket.AF_INET6, v6)):
        # The server side lives in the other namespace: `ip netns exec` starts it there.
        srv = subprocess.Popen(["ip", "netns", "exec", ns, "python3", "-c",
                                f"import socket,time;s=socket.socket({int(fam)});s.setsockopt(1,2,1);"
                                f"s.bind(('{addr}',7005));s.listen(1);c,_=s.accept();time.sleep(1.5)"])
        time.sleep(0.3)
        s = socket.socket(fam); s.connect((addr, 7005))
        subprocess.run(["ip", "-n", ns, "link", "set", "veth-a", "down"], check=True)
        s.send(b"x" * 100)
        time.sleep(0.8)
        abort(s)
        subprocess.run(["ip", "-n", ns, "link", "set", "veth-a", "up"], check=True)
        srv.wait()


def main(argv):
    if len(argv) >= 5 and argv[1] == "serve":
        serve(argv[2], int(argv[3]), argv[4], argv[5])
        return 0
    if len(argv) == 5 and argv[1] == "client":
        return client(argv[2], int(argv[3]), argv[4])
    if len(argv) == 4 and argv[1] in ("capture-server", "capture-client"):
        (capture_server if argv[1] == "capture-server" else capture_client)(argv[2], argv[3])
        return 0
    if len(argv) == 5 and argv[1] == "capture-retransmit":
        capture_retransmit(argv[2], argv[3], argv[4])
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
