// The P-256 key the crypto tests share, with its public key and node ID worked out
// by other tools, so the code under test is checked against independent values.
#pragma once

namespace punch::crypto::testing {

// Made by `openssl ecparam -name prime256v1 -genkey -noout`; its public key is
// kFixtureSpki below, so its ID is known independently.
inline constexpr char kFixturePem[] =
    "-----BEGIN EC PRIVATE KEY-----\n"
    "MHcCAQEEII+HJB61ItO0eTI3jyQ5yjby+HPBhHduaHj50R2IEx08oAoGCCqGSM49\n"
    "AwEHoUQDQgAECfAy0bWPlc7DUozOwwEABJ9yavl+p0LuyrVm0ery9Z95udGT857k\n"
    "yryD5/ccJRN7fUqEMaAZF4wvmAJDb9+soA==\n"
    "-----END EC PRIVATE KEY-----\n";

// Its SubjectPublicKeyInfo, by `openssl ec -pubout -outform DER`.
inline constexpr char kFixtureSpki[] =
    "3059301306072a8648ce3d020106082a8648ce3d0301070342000409f032d1b58f95cec3528cce"
    "c30100049f726af97ea742eecab566d1eaf2f59f79b9d193f39ee4cabc83e7f71c25137b7d4a84"
    "31a019178c2f9802436fdfaca0";
// Its node ID, computed with Python (hashlib.sha256, base64.b32encode).
inline constexpr char kFixtureId[] = "iasvhqmkmctrf6rtdawoctn75a";

}  // namespace punch::crypto::testing
