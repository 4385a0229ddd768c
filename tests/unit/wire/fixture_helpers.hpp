// Helpers the wire codec tests share: hand-written hex fixtures turned into
// bytes, encoder output turned into hex, and the "every proper prefix needs
// more" check of streaming decoders.
#pragma once

#include <doctest/doctest.h>

#include <cstddef>
#include <string>

#include "test_hex.hpp"
#include "util/bytes.hpp"

namespace punch::wire::testing {

using punch::testing::hex;

/// What the encoder appends for `m`, as hex; checks it leaves earlier bytes alone.
template <typename T>
std::string encoded(const T& m) {
  util::Bytes out = {0xee};
  encode(m, out);
  CHECK(out.front() == 0xee);
  return util::to_hex(util::ByteView(out).subspan(1));
}

/// Runs `decode` over every proper prefix of `full` and expects "need more",
/// with nothing consumed, each time.
template <typename Decode>
void check_prefixes_need_more(const util::Bytes& full, Decode decode) {
  for (std::size_t n = 0; n < full.size(); ++n) {
    CAPTURE(n);
    const auto d = decode(util::ByteView(full).first(n));
    CHECK(d.need_more());
    CHECK(d.consumed == 0);
  }
}

}  // namespace punch::wire::testing
