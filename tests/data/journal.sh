#!/usr/bin/env bash
# Makes the journalctl captures from the /dev/kmsg capture without a running journald:
#   tests/data/journal.sh tests/data/kmsg.txt OUTDIR
# Each kmsg record becomes a journal export entry as journald's kmsg reader would store it
# (MESSAGE, PRIORITY, SYSLOG_IDENTIFIER=kernel, _TRANSPORT=kernel, monotonic time = the record's
# timestamp, realtime = boot time + that), systemd-journal-remote writes the journal file, and
# journalctl --file prints it in each short format.
set -euo pipefail
in=${1:?kmsg capture} out=${2:?OUTDIR}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
btime=$(awk '/^btime/ {print $2}' /proc/stat)
boot=$(tr -d - < /proc/sys/kernel/random/boot_id)
while IFS= read -r rec; do
  head=${rec%%;*} msg=${rec#*;}
  IFS=, read -r pri seq usec _ <<< "$head"
  printf '__REALTIME_TIMESTAMP=%s\n__MONOTONIC_TIMESTAMP=%s\n_BOOT_ID=%s\n_HOSTNAME=%s\n' \
    $((btime * 1000000 + usec)) "$usec" "$boot" "$(hostname)"
  printf 'PRIORITY=%s\nSYSLOG_FACILITY=0\nSYSLOG_IDENTIFIER=kernel\n_TRANSPORT=kernel\nMESSAGE=%s\n\n' \
    $((pri & 7)) "$msg"
done < "$in" > "$tmp/kmsg.export"
/lib/systemd/systemd-journal-remote --output="$tmp/remote.journal" "$tmp/kmsg.export"
for fmt in short short-iso short-precise short-monotonic; do
  TZ=UTC journalctl --no-pager --file "$tmp/remote.journal" -o $fmt | grep -v '^-- ' > "$out/journal-$fmt.txt"
done
wc -l "$out"/journal-*.txt
