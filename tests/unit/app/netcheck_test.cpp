#include "app/netcheck.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace app = punch::app;
namespace path = punch::path;
namespace util = punch::util;
using namespace std::chrono_literals;

TEST_CASE("netcheck --json: every field, in order, nulls where nothing answered") {
  path::NatReport r;
  r.udp = true;
  r.reflexive = {util::Address::v4(203, 0, 113, 50, 40001), std::nullopt};
  r.mapping = path::Mapping::kUnknown;
  r.port_preserved = true;
  r.rtt = 1250us;
  CHECK(app::netcheck_json(r, "192.0.2.2:7777", "192.0.2.2:7778", "198.51.100.50:40001") ==
        R"({"udp":true,"rendezvous":"192.0.2.2:7777","probe":"192.0.2.2:7778","other_probes":[],)"
        R"("local":"198.51.100.50:40001","reflexive":["203.0.113.50:40001",null],)"
        R"("mapping":"unknown","port_preserved":true,"rtt_ms":1.250})");
  const path::NatReport none = path::classify({}, {std::nullopt, std::nullopt});
  CHECK(app::netcheck_json(none, "a:1", "a:2", "") ==
        R"({"udp":false,"rendezvous":"a:1","probe":"a:2","other_probes":[],"local":null,)"
        R"("reflexive":[null,null],)"
        R"("mapping":"unknown","port_preserved":null,"rtt_ms":null})");
}

TEST_CASE("netcheck --json and text: probe addresses the rendezvous listed follow the two") {
  path::NatReport r;
  r.udp = true;
  r.reflexive = {util::Address::v4(203, 0, 113, 52, 1000), util::Address::v4(203, 0, 113, 52, 2000),
                 util::Address::v4(203, 0, 113, 53, 3000), std::nullopt};
  r.mapping = path::Mapping::kAddressVaries;
  r.port_preserved = false;
  r.rtt = 2ms;
  const std::vector<std::string> others = {"192.0.2.3:7778", "192.0.2.4:7778"};
  CHECK(app::netcheck_json(r, "192.0.2.2:7777", "192.0.2.2:7778", "l:1", others) ==
        R"({"udp":true,"rendezvous":"192.0.2.2:7777","probe":"192.0.2.2:7778",)"
        R"("other_probes":["192.0.2.3:7778","192.0.2.4:7778"],"local":"l:1",)"
        R"("reflexive":["203.0.113.52:1000","203.0.113.52:2000","203.0.113.53:3000",null],)"
        R"("mapping":"address-varies","port_preserved":false,"rtt_ms":2.000})");
  CHECK(app::netcheck_text(r, "192.0.2.2:7777", "192.0.2.2:7778", "l:1", others) ==
        "UDP        works, round trip 2.00 ms\n"
        "local      l:1\n"
        "reflexive  203.0.113.52:1000 (from 192.0.2.2:7777)\n"
        "           203.0.113.52:2000 (from 192.0.2.2:7778)\n"
        "           203.0.113.53:3000 (from 192.0.2.3:7778)\n"
        "           no answer (from 192.0.2.4:7778)\n"
        "mapping    address varies (pool NAT: a different public address per destination)\n"
        "port kept  no\n");
}

TEST_CASE("netcheck text: short lines naming the verdict, or the missing answer") {
  path::NatReport r;
  r.udp = true;
  r.reflexive = {util::Address::v4(203, 0, 113, 66, 1000),
                 util::Address::v4(203, 0, 113, 66, 2000)};
  r.mapping = path::Mapping::kEndpointDependent;
  r.port_preserved = false;
  r.rtt = 2ms;
  const std::string text = app::netcheck_text(r, "192.0.2.2:7777", "192.0.2.2:7778", "l:1");
  CHECK(text ==
        "UDP        works, round trip 2.00 ms\n"
        "local      l:1\n"
        "reflexive  203.0.113.66:1000 (from 192.0.2.2:7777)\n"
        "           203.0.113.66:2000 (from 192.0.2.2:7778)\n"
        "mapping    endpoint-dependent (hard NAT: a new public port per destination)\n"
        "port kept  no\n");
  const path::NatReport none = path::classify({}, {std::nullopt, std::nullopt});
  CHECK(app::netcheck_text(none, "a:1", "a:2", "") ==
        "UDP        no answer from a:1 or a:2 within 3 s\n");
}
