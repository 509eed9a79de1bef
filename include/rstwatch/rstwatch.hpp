// rstwatch: when a TCP connection is reset, which side sent the RST, and what was its 4-tuple.
// This umbrella header includes every public component.
#pragma once

// Shared values: diagnostics, addresses, times, the reset event.
#include <rstwatch/diagnostic.hpp>
#include <rstwatch/address.hpp>
#include <rstwatch/time.hpp>
#include <rstwatch/event.hpp>

// The netfilter model: hooks, tables, chains, priorities, packet paths.
#include <rstwatch/netfilter.hpp>

// iptables rule syntax: restore files, iptables-save printing, typed views.
#include <rstwatch/rules/parse.hpp>
#include <rstwatch/rules/saved.hpp>
#include <rstwatch/rules/check_rule.hpp>
#include <rstwatch/rules/validate.hpp>
#include <rstwatch/rules/build.hpp>
#include <rstwatch/rules/nft.hpp>

// Kernel LOG lines: envelopes, nf_log records, the one-call classifier, a line source.
#include <rstwatch/log/envelope.hpp>
#include <rstwatch/log/record.hpp>
#include <rstwatch/log/classify.hpp>
#include <rstwatch/log/line_source.hpp>

// Emitters: rsyslog drop-in, logrotate stanza, firewall rules and boot persistence.
#include <rstwatch/emit/config.hpp>
#include <rstwatch/emit/rsyslog.hpp>
#include <rstwatch/emit/logrotate.hpp>
#include <rstwatch/emit/firewall.hpp>
#include <rstwatch/emit/systemd.hpp>
#include <rstwatch/emit/rc_local.hpp>

// Tracepoints: trace_pipe lines of the tcp/sock events, reset events from them, ftrace instances.
#include <rstwatch/trace/prefix.hpp>
#include <rstwatch/trace/record.hpp>
#include <rstwatch/trace/reset.hpp>
#include <rstwatch/trace/instance.hpp>
