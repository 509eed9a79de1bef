// rstwatch: when a TCP connection is reset, which side sent the RST, and what was its 4-tuple.
// This umbrella header includes every public component.
#pragma once

#include <rstwatch/diagnostic.hpp>
#include <rstwatch/netfilter.hpp>
#include <rstwatch/address.hpp>
#include <rstwatch/event.hpp>
#include <rstwatch/log/classify.hpp>
#include <rstwatch/log/envelope.hpp>
#include <rstwatch/log/line_source.hpp>
#include <rstwatch/log/record.hpp>
#include <rstwatch/time.hpp>
#include <rstwatch/trace/prefix.hpp>
#include <rstwatch/trace/record.hpp>
#include <rstwatch/trace/reset.hpp>
#include <rstwatch/trace/instance.hpp>
