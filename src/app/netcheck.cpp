#include "app/netcheck.hpp"

#include <chrono>
#include <cstdio>
#include <optional>

#include "app/event_log.hpp"
#include "crypto/random.hpp"
#include "io/core_driver.hpp"
#include "io/interfaces.hpp"
#include "io/loop.hpp"
#include "io/signals.hpp"
#include "io/sockaddr.hpp"
#include "io/udp_socket.hpp"
#include "path/constants.hpp"
#include "path/netcheck.hpp"
#include "util/log.hpp"

namespace punch::app {

namespace {

constexpr int kExitNoAnswer = 1;
constexpr int kExitUsage = 2;
constexpr int kExitInterrupted = 130;

// "3 s": how long the check waits for an answer, for messages.
std::string timeout_text() {
  return std::to_string(
             std::chrono::duration_cast<std::chrono::seconds>(path::kNetcheckTimeout).count()) +
         " s";
}

double to_ms(util::Duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

std::string format_ms(util::Duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", to_ms(d));
  return buf;
}

std::string json_address(const std::optional<util::Address>& a) {
  return a ? json_string(a->to_string()) : "null";
}

}  // namespace

std::string netcheck_json(const path::NatReport& report, const std::string& rendezvous,
                          const std::string& probe_port, const std::string& local,
                          const std::vector<std::string>& other_probe_addresses) {
  std::string out = "{\"udp\":";
  out += report.udp ? "true" : "false";
  out += ",\"rendezvous\":" + json_string(rendezvous);
  out += ",\"probe\":" + json_string(probe_port);
  out += ",\"other_probes\":[";
  for (std::size_t i = 0; i < other_probe_addresses.size(); ++i) {
    if (i > 0) out += ',';
    out += json_string(other_probe_addresses[i]);
  }
  out += "]";
  out += ",\"local\":" + (local.empty() ? std::string("null") : json_string(local));
  out += ",\"reflexive\":[";
  for (std::size_t i = 0; i < report.reflexive.size(); ++i) {
    if (i > 0) out += ',';
    out += json_address(report.reflexive[i]);
  }
  out += "],\"mapping\":" + json_string(path::mapping_token(report.mapping));
  out += ",\"port_preserved\":";
  out += report.port_preserved ? (*report.port_preserved ? "true" : "false") : "null";
  out += ",\"rtt_ms\":" + (report.rtt ? format_ms(*report.rtt) : std::string("null"));
  out += "}";
  return out;
}

std::string netcheck_text(const path::NatReport& report, const std::string& rendezvous,
                          const std::string& probe_port, const std::string& local,
                          const std::vector<std::string>& other_probe_addresses) {
  if (!report.udp) {
    return "UDP        no answer from " + rendezvous + " or " + probe_port + " within " +
           timeout_text() + "\n";
  }
  char rtt[32];
  std::snprintf(rtt, sizeof rtt, "%.2f ms", to_ms(*report.rtt));
  std::string out = "UDP        works, round trip " + std::string(rtt) + "\n";
  out += "local      " + (local.empty() ? std::string("unknown") : local) + "\n";
  std::vector<std::string> names = {rendezvous, probe_port};
  names.insert(names.end(), other_probe_addresses.begin(), other_probe_addresses.end());
  for (std::size_t i = 0; i < report.reflexive.size() && i < names.size(); ++i) {
    out += i == 0 ? "reflexive  " : "           ";
    out += report.reflexive[i] ? report.reflexive[i]->to_string() : "no answer";
    out += " (from " + names[i] + ")\n";
  }
  out += "mapping    " + path::mapping_description(report.mapping) + "\n";
  out += "port kept  ";
  out += *report.port_preserved ? "yes" : "no";
  out += "\n";
  return out;
}

int run_netcheck(const NetcheckConfig& config) {
  auto rendezvous = io::resolve(config.rendezvous, kDefaultRendezvousPort);
  if (!rendezvous) {
    util::log_error("rendezvous: " + rendezvous.error().message);
    return kExitUsage;
  }
  util::Address probe_port = *rendezvous;
  probe_port.port = kDefaultProbePort;
  if (!config.probe.empty()) {
    auto resolved = io::resolve(config.probe, kDefaultProbePort);
    if (!resolved) {
      util::log_error("probe: " + resolved.error().message);
      return kExitUsage;
    }
    probe_port = *resolved;
  }
  if (probe_port.family != rendezvous->family) {
    util::log_error("the rendezvous and the probe port must be of one address family");
    return kExitUsage;
  }

  int code = 0;
  std::optional<path::NatReport> report;
  std::vector<std::string> other_probe_addresses;  // Learnt from the rendezvous's PROBE_LIST.
  util::Address local;
  {
    io::Loop loop;
    crypto::SystemRandom rng;
    io::UdpSocket socket(loop);
    std::optional<path::Netcheck> check;
    bool stopped = false;
    std::optional<io::CoreDriver> driver;
    std::optional<io::Signals> signals;
    const auto stop = [&] {
      if (stopped) return;
      stopped = true;
      socket.close();
      driver->close();
      signals->close();
    };
    driver.emplace(loop, io::CoreDriver::Hooks{[&](util::TimePoint now) { check->on_timeout(now); },
                                               [&] { return check->next_deadline(); },
                                               [&](util::TimePoint) {
                                                 if (check->done()) stop();
                                               }});
    signals.emplace(loop, [&](int) {
      code = kExitInterrupted;
      stop();
    });
    util::Address any;  // Any address, any port, of the rendezvous's family.
    any.family = rendezvous->family;
    auto bound = socket.bind(any, [&](const util::Address& from, util::ByteView data) {
      if (stopped) return;
      driver->feed([&](util::TimePoint now) { check->on_datagram(from, data, now); });
    });
    if (!bound) {
      util::log_error(bound.error().message);
      code = kExitNoAnswer;
      stop();
    } else {
      // The socket is bound to the wildcard address; what the kernel sends from
      // towards the rendezvous is the address a NAT-free network would show.
      local = io::source_address_towards(*rendezvous);
      if (local.valid()) local.port = socket.local_address().port;
      util::log_debug("probing " + rendezvous->to_string() + " and " + probe_port.to_string() +
                      " from port " + std::to_string(socket.local_address().port));
      // Also asks the rendezvous for its probe addresses (PROBE_LIST_REQUEST): those on
      // other IPs are what tell a Linux address pool from a hard NAT (docs/netcheck.md).
      check.emplace(rng, socket, std::vector<util::Address>{*rendezvous, probe_port}, io::now(),
                    true);
      driver->arm();
    }
    loop.run();
    if (check && code == 0) {
      report = path::classify(local, check->answers());
      const auto& all = check->destinations();
      for (std::size_t i = 2; i < all.size(); ++i)
        other_probe_addresses.push_back(all[i].to_string());
    }
  }
  if (!report) return code;

  const std::string local_text = local.valid() ? local.to_string() : "";
  if (config.json) {
    std::printf("%s\n", netcheck_json(*report, rendezvous->to_string(), probe_port.to_string(),
                                      local_text, other_probe_addresses)
                            .c_str());
  } else {
    std::fputs(netcheck_text(*report, rendezvous->to_string(), probe_port.to_string(), local_text,
                             other_probe_addresses)
                   .c_str(),
               stdout);
  }
  if (!report->udp) {
    util::log_error("no answer from the rendezvous at " + rendezvous->to_string() +
                    " or its probe port " + probe_port.to_string() + " within " + timeout_text() +
                    ": UDP is blocked on this network, or the rendezvous is down");
    return kExitNoAnswer;
  }
  if (!report->reflexive[1]) {
    util::log_warn("the probe port " + probe_port.to_string() +
                   " did not answer (turned off, or filtered?): the mapping cannot be compared");
  }
  return 0;
}

}  // namespace punch::app
