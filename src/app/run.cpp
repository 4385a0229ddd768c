#include "app/run.hpp"

#include <cstdio>

#include "app/keys.hpp"
#include "app/netcheck.hpp"
#include "app/rendezvous_service.hpp"
#include "app/tunnel.hpp"
#include "crypto/identity.hpp"
#include "crypto/random.hpp"
#include "util/log.hpp"

namespace punch::app {

namespace {

int run_keygen(const KeygenConfig& config) {
  crypto::SystemRandom rng;
  auto identity = crypto::Identity::generate(rng);
  if (!identity) {
    util::log_error(identity.error().message);
    return 1;
  }
  if (auto saved = identity->save(config.common.key_path, config.force); !saved) {
    util::log_error(saved.error().message);
    return 1;
  }
  std::printf("%s\n", identity->id().to_string().c_str());
  return 0;
}

int run_id(const IdConfig& config) {
  auto identity = crypto::Identity::load(config.common.key_path);
  if (!identity) {
    util::log_error(identity.error().message);
    return 1;
  }
  std::printf("%s\n", identity->id().to_string().c_str());
  return 0;
}

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

}  // namespace

int run(const Command& command) {
  std::visit([](const auto& c) { util::set_log_level(c.common.log_level); }, command);
  return std::visit(Overloaded{
                        [](const KeygenConfig& c) { return run_keygen(c); },
                        [](const IdConfig& c) { return run_id(c); },
                        [](const RendezvousConfig& c) { return run_rendezvous(c); },
                        [](const ListenConfig& c) { return run_listen(c); },
                        [](const ConnectConfig& c) { return run_connect(c); },
                        [](const NetcheckConfig& c) { return run_netcheck(c); },
                    },
                    command);
}

}  // namespace punch::app
