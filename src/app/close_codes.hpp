// Application close codes: what punch tells its peer in the error-code field of the
// application CONNECTION_CLOSE when it closes a session (the reason text rides along
// for people). The receiving side decides on the code and origin, never on the text.
#pragma once

#include <cstdint>
#include <string_view>

namespace punch::app {

/// Both sides' streams finished; nothing was cut short. 0, the code every close carried
/// before codes existed, so an older peer's "done" still reads as a clean end.
inline constexpr std::uint64_t kCloseDone = 0;
/// The text sent with kCloseDone.
inline constexpr std::string_view kCloseDoneText = "done";
/// The session ended on an error; the text says which.
inline constexpr std::uint64_t kCloseError = 1;
/// The user interrupted punch (SIGINT or SIGTERM).
inline constexpr std::uint64_t kCloseInterrupted = 2;

}  // namespace punch::app
