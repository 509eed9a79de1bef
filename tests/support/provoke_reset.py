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
"""
import os
import socket
import struct
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


def main(argv):
    if len(argv) >= 5 and argv[1] == "serve":
        serve(argv[2], int(argv[3]), argv[4], argv[5])
        return 0
    if len(argv) == 5 and argv[1] == "client":
        return client(argv[2], int(argv[3]), argv[4])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
