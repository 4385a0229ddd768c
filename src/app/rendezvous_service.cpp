#include "app/rendezvous_service.hpp"

#include <list>

#include "app/event_log.hpp"
#include "crypto/random.hpp"
#include "io/core_driver.hpp"
#include "io/loop.hpp"
#include "io/signals.hpp"
#include "io/sockaddr.hpp"
#include "io/udp_socket.hpp"
#include "rendezvous/server.hpp"
#include "util/log.hpp"

namespace punch::app {

namespace {

class Observer final : public rendezvous::ServerObserver {
 public:
  explicit Observer(EventLog& log) : log_(log) {}
  void on_registered(const std::string& node_id, const util::Address& from) override {
    util::log_debug("registered " + node_id + " at " + from.to_string());
    log_.emit("registered", {{"peer", node_id}, {"address", from.to_string()}});
  }
  void on_relay_up(std::uint64_t, const std::string& connector,
                   const std::string& listener) override {
    util::log_debug("relaying " + connector + " <-> " + listener);
    log_.emit("relay_up", {{"connector", connector}, {"listener", listener}});
  }

 private:
  EventLog& log_;
};

}  // namespace

int run_rendezvous(const RendezvousConfig& config) {
  auto local = util::Address::parse(config.listen);
  if (!local) {
    auto resolved = io::resolve(config.listen, kDefaultRendezvousPort);
    if (!resolved) {
      util::log_error("bad listen address: " + resolved.error().message);
      return 2;
    }
    local = *resolved;
  }
  for (const util::Address& a : config.probe_addresses) {
    if (a.family != local->family) {
      util::log_error("--probe-address " + a.to_string() +
                      " is not of the listen address's family (" + local->to_string() +
                      "): clients could not reach it from the socket they "
                      "register with");
      return 2;
    }
    if (a.ip == local->ip) {
      util::log_warn("--probe-address " + a.to_string() +
                     " is on the listen IP: it shows nothing the probe port does not");
    }
  }
  EventLog events;
  if (auto s = events.open(config.common.events_path); !s) {
    util::log_error(s.error().message);
    return 1;
  }
  int exit_code = 0;
  {
    io::Loop loop;
    crypto::SystemRandom rng;
    Observer observer(events);
    io::UdpSocket socket(loop);
    io::UdpSocket probe_socket(loop);
    // One socket per --probe-address; a list, since sockets cannot move.
    std::list<io::UdpSocket> other_ip_sockets;
    rendezvous::Server server(rng, socket, &observer, io::now());
    io::CoreDriver driver(loop, {[&](util::TimePoint now) { server.on_timeout(now); },
                                 [&] { return server.next_deadline(); }, nullptr});
    auto bound = socket.bind(*local, [&](const util::Address& from, util::ByteView data) {
      driver.feed([&](util::TimePoint now) { server.on_datagram(from, data, now); });
    });
    bool probe_enabled = config.probe_port.has_value();
    if (bound && probe_enabled) {
      // Same IP as the main port: a prober compares two ports of one address, so
      // whatever differs between the answers is the prober's NAT, not our routing.
      util::Address probe_local = socket.local_address();
      probe_local.port = *config.probe_port;
      bound = probe_socket.bind(probe_local, [&](const util::Address& from, util::ByteView data) {
        // The reply leaves through probe_socket: from the port the probe came to.
        driver.feed([&](util::TimePoint now) {
          server.on_probe_socket_datagram(from, data, probe_socket, now);
        });
      });
      if (!bound && !config.probe_port_required) {
        util::log_warn("probe port " + probe_local.to_string() + ": " + bound.error().message +
                       "; running without one (punch netcheck cannot compare mappings here; "
                       "choose one with --probe-port)");
        probe_socket.close();
        probe_enabled = false;
        bound = util::ok_status();
      } else if (!bound) {
        bound = util::Status(util::Error{"probe port: " + bound.error().message});
      }
    }
    // Probe sockets on other IPs answer exactly as the probe port does (same handler,
    // same rate limit); each reply leaves from the socket, so from the IP, the probe
    // was sent to, which is what shows a NAT picking its address by destination IP.
    for (const util::Address& a : config.probe_addresses) {
      if (!bound) break;
      io::UdpSocket& other = other_ip_sockets.emplace_back(loop);
      bound = other.bind(a, [&](const util::Address& from, util::ByteView data) {
        driver.feed(
            [&](util::TimePoint now) { server.on_probe_socket_datagram(from, data, other, now); });
      });
      if (!bound) {
        bound = util::Status(util::Error{"probe address " + a.to_string() + ": " +
                                         bound.error().message + " (is it an IP of this host?)"});
      }
    }
    if (!bound) {
      util::log_error(bound.error().message);
      exit_code = 1;
    } else {
      EventFields fields{{"address", socket.local_address().to_string()}};
      std::string probe_text = "no probe port";
      if (probe_enabled) {
        probe_text = "probe port " + probe_socket.local_address().to_string();
        server.set_probe_port(probe_socket.local_address().port);
        fields.emplace_back("probe_address", probe_socket.local_address().to_string());
      }
      std::vector<util::Address> others;
      for (const io::UdpSocket& other : other_ip_sockets) {
        others.push_back(other.local_address());
        probe_text += ", probe address " + others.back().to_string();
      }
      if (!others.empty()) {
        std::string list;
        for (const util::Address& a : others) list += (list.empty() ? "" : " ") + a.to_string();
        fields.emplace_back("other_probe_addresses", list);
        server.set_probe_addresses(std::move(others));
      }
      util::log_info("rendezvous listening on " + socket.local_address().to_string() + " (UDP), " +
                     probe_text);
      events.emit("listening", fields);
      driver.arm();
      io::Signals signals(loop, [&](int) {
        const auto st = server.stats();
        util::log_info("shutting down: " + std::to_string(st.relayed_packets) +
                       " packets relayed, " + std::to_string(st.dropped_malformed) +
                       " malformed, " + std::to_string(st.dropped_unauthenticated) +
                       " unauthenticated, " + std::to_string(st.dropped_rate_limited) +
                       " rate-limited and " + std::to_string(st.dropped_no_relay) +
                       " unrelayable datagrams dropped, " +
                       std::to_string(st.dropped_unproven_address) +
                       " messages from unproven addresses answered UNKNOWN, " +
                       std::to_string(st.signature_checks) + " signatures checked, " +
                       std::to_string(st.address_probes_answered) + " address probes answered");
        socket.close();
        probe_socket.close();
        for (io::UdpSocket& other : other_ip_sockets) other.close();
        driver.close();
        loop.stop();
      });
      loop.run();
    }
  }
  return exit_code;
}

}  // namespace punch::app
