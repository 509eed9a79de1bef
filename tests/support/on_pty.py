#!/usr/bin/env python3
"""Run a command with its stderr on a new pseudo-terminal; print what the terminal shows.

  on_pty.py COMMAND [ARG...]

stdin and stdout stay as this script got them; only stderr is the terminal, so the command sees
isatty(2) and nothing else changes. Everything written to the terminal is copied to this
script's stdout byte for byte (the terminal's line discipline turns "\\n" into "\\r\\n"). The exit
status is the command's.
"""
import os
import pty
import subprocess
import sys

master, slave = pty.openpty()
proc = subprocess.Popen(sys.argv[1:], stderr=slave)
os.close(slave)
shown = bytearray()
while True:
    try:
        chunk = os.read(master, 65536)
    except OSError:  # EIO: the last writer closed the terminal
        break
    if not chunk:
        break
    shown += chunk
sys.stdout.buffer.write(bytes(shown))
sys.exit(proc.wait())
