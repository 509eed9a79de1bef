// rstwatch: when a TCP connection is reset, which side sent the RST, and what was its 4-tuple.
// This umbrella header includes every public component.
#pragma once

#include <rstwatch/diagnostic.hpp>
#include <rstwatch/netfilter.hpp>

#include <rstwatch/emit/config.hpp>
#include <rstwatch/emit/rsyslog.hpp>
#include <rstwatch/emit/logrotate.hpp>
#include <rstwatch/emit/firewall.hpp>
#include <rstwatch/emit/systemd.hpp>
#include <rstwatch/emit/rc_local.hpp>

#include <rstwatch/rules/parse.hpp>
#include <rstwatch/rules/saved.hpp>
#include <rstwatch/rules/views.hpp>
#include <rstwatch/rules/check_rule.hpp>
#include <rstwatch/rules/validate.hpp>
#include <rstwatch/rules/build.hpp>
#include <rstwatch/rules/nft.hpp>
