#!/bin/sh
# ctest driver for rstwatch-rules: cli_test.sh CASE RSTWATCH_RULES SEED_FILE
# Exit 0 pass, 1 fail, 77 skipped (root needed outside CI; with CI=true it fails instead).
set -u
case_name=$1 tool=$2 seed=$3
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

fail() { echo "FAIL: $*"; echo "--- output:"; cat "$tmp/out" 2>/dev/null; exit 1; }
# run EXPECTED_STATUS ARGS... : runs the tool, output (stdout+stderr) in $tmp/out
run() {
  want=$1; shift
  "$tool" "$@" >"$tmp/out" 2>&1
  got=$?
  [ "$got" -eq "$want" ] || fail "rstwatch-rules $* exited $got, expected $want"
}
has() { grep -qF -- "$1" "$tmp/out" || fail "output lacks: $1"; }
need_root() {
  if [ "$(id -u)" -ne 0 ] || ! ip netns add "rstw-cli-$$" 2>/dev/null; then
    [ "${CI:-}" = true ] && fail "CI=true but cannot use network namespaces"
    echo "SKIPPED: needs root and network namespaces"; exit 77
  fi
  ns="rstw-cli-$$"
  trap 'ip netns del "$ns"; rm -rf "$tmp"' EXIT
}
seed_rule='-A INPUT -p tcp -m tcp ! --sport 3406 --tcp-flags RST RST -j LOG --log-prefix "[drds] " --log-level 7 --log-tcp-sequence --log-tcp-options --log-ip-options'

case $case_name in
  fmt)
    run 0 fmt "$seed"; has "$seed_rule"; has ':INPUT ACCEPT [0:0]'
    grep -q '^#' "$tmp/out" && fail "comments are not printed by iptables-save" ;;
  fmt-counters-any-order)
    run 0 fmt "$seed" --counters; has ':INPUT ACCEPT [557:88127]'; has "[0:0] $seed_rule"
    cp "$tmp/out" "$tmp/after"
    run 0 fmt --counters "$seed"; cmp -s "$tmp/out" "$tmp/after" || fail "option order changed the output" ;;
  fmt-source)
    run 0 fmt --source "$seed"; cmp -s "$tmp/out" "$seed" || fail "--source is not the file as written" ;;
  stdin)
    "$tool" fmt - <"$seed" >"$tmp/out" 2>&1 || fail "reading - failed"; has "$seed_rule" ;;
  check)
    run 0 check "$seed"; has '0 error(s), 0 warning(s)' ;;
  check-typo)
    sed 's/^# -A/-A/' "$seed" >"$tmp/typo.rules"
    run 1 check "$tmp/typo.rules"
    has "typo.rules:8:90: error: unknown option '--log-level7' (did you mean \`--log-level 7\`)" ;;
  check-werror)
    printf '*filter\n-A INPUT -s localhost -j ACCEPT\nCOMMIT\n' >"$tmp/host.rules"
    run 0 check "$tmp/host.rules"; has 'warning: host name'
    run 1 check "$tmp/host.rules" --werror ;;
  syntax-error)
    printf '*filter\n-A INPUT -p tcp --sport ! 80 -j ACCEPT\nCOMMIT\n' >"$tmp/old.rules"
    run 1 check "$tmp/old.rules"
    has "old.rules:2:25: error: intrapositioned negation '--sport ! 80'"
    has "$(printf '%26s^' '')"; has "(write '! --sport 80')" ;;
  family)
    printf '*filter\n-A INPUT -s 2001:db8::/32 -p ipv6-icmp --icmpv6-type echo-request -j ACCEPT\nCOMMIT\n' >"$tmp/v6.rules"
    run 0 check -6 "$tmp/v6.rules"
    run 1 check "$tmp/v6.rules" -4
    run 0 to-nft "$tmp/v6.rules" -6; has 'table ip6 filter'; has 'icmpv6 type 128' ;;
  usage-unknown-subcommand)
    run 2 frob "$seed" ;;
  usage-unknown-option)
    run 2 check --bogus "$seed" ;;
  usage-no-file)
    run 2 fmt ;;
  explain)
    run 0 explain "$seed"
    has 'INPUT: hook input (NF_IP_LOCAL_IN), priority 0'
    has 'OUTPUT: hook output (NF_IP_LOCAL_OUT), priority 0'
    has 'line 7: logs TCP packets whose source port is not 3406 with RST set, addressed to this host'
    has 'line 9: logs TCP packets whose source port is not 3406 with RST set, sent by this host'
    has 'with prefix "[drds] " at level 7 (debug)' ;;
  explain-user-chain)
    printf '*filter\n:LOGRST - [0:0]\n-A INPUT -p tcp --tcp-flags RST RST -j LOGRST\n-A LOGRST -j LOG --log-prefix rst\nCOMMIT\n' >"$tmp/u.rules"
    run 0 explain "$tmp/u.rules"
    has 'LOGRST: user chain, called from INPUT'
    has 'line 4: logs all packets, in user chain LOGRST (called from INPUT), to the kernel log with prefix "rst" at level 4 (warning)' ;;
  to-nft)
    run 0 to-nft "$seed"; has 'type filter hook input priority 0; policy accept;'
    has 'log prefix "[drds] " level debug flags tcp sequence,options flags ip options' ;;
  to-nft-untranslatable)
    printf '*filter\n-A OUTPUT -p tcp -m multiport --ports 80,443 -j DROP\nCOMMIT\n' >"$tmp/ports.rules"
    run 1 to-nft "$tmp/ports.rules"
    has "ports.rules:2:31: error: rule at line 2 ('-A OUTPUT -p tcp -m multiport --ports 80,443 -j DROP') cannot be translated" ;;
  to-nft-loads)
    need_root
    "$tool" to-nft "$seed" >"$tmp/seed.nft" || fail "to-nft failed"
    ip netns exec "$ns" nft -f "$tmp/seed.nft" >"$tmp/out" 2>&1 || fail "nft -f refused the script"
    ip netns exec "$ns" nft list chain ip filter OUTPUT >"$tmp/out" 2>&1 || fail "no OUTPUT chain"
    has 'log prefix "[drds] " level debug' ;;
  *) echo "unknown case $case_name"; exit 1 ;;
esac
exit 0
