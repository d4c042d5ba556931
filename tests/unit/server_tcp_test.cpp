// The TCP listener's pieces: the API key check and listen addresses; the socket's allowed uids.
#include <gtest/gtest.h>

#include <string>

#include "hades/error.hpp"
#include "server/api_key.hpp"
#include "server/peer_credentials.hpp"
#include "server/tcp_listener.hpp"
#include "support/expect_error.hpp"
#include "support/temp_dir.hpp"

namespace hades::server {
namespace {

using test::expect_error;

TEST(ApiKey, AcceptsOnlyTheBearerOfTheWholeKey) {
  const ApiKey key = ApiKey::from_text("s3cret-Key_42", "HADES_API_KEY");
  EXPECT_TRUE(key.accepts("Bearer s3cret-Key_42"));
  EXPECT_TRUE(key.accepts("bearer s3cret-Key_42"));  // the scheme is case-insensitive
  EXPECT_FALSE(key.accepts(""));
  EXPECT_FALSE(key.accepts("s3cret-Key_42"));  // no scheme
  EXPECT_FALSE(key.accepts("Basic s3cret-Key_42"));
  EXPECT_FALSE(key.accepts("Bearer s3cret-Key_43"));   // the last byte differs
  EXPECT_FALSE(key.accepts("Bearer s3cret-Key_4"));    // a prefix of the key
  EXPECT_FALSE(key.accepts("Bearer s3cret-Key_420"));  // the key and more
  EXPECT_FALSE(key.accepts("Bearer S3cret-Key_42"));
  EXPECT_FALSE(key.accepts("Bearer  s3cret-Key_42"));
}

TEST(ApiKey, RefusesKeysThatCannotTravelInAHeaderWithoutNamingThem) {
  expect_error([] { ApiKey::from_text("", "HADES_API_KEY"); }, ErrorCode::invalid_argument,
               {"HADES_API_KEY", "1 to 4096 bytes"});
  try {
    ApiKey::from_text("two words", "HADES_API_KEY");
    FAIL() << "a key with a space was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).find("two words"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("printable ASCII"), std::string::npos) << e.what();
  }
}

TEST(ApiKey, ReadsTheFirstLineOfItsFile) {
  const test::TempDir dir;
  test::write_file(dir.path() / "key", "from-file\n");
  EXPECT_TRUE(ApiKey::from_file(dir.path() / "key").accepts("Bearer from-file"));
  expect_error([&] { ApiKey::from_file(dir.path() / "missing"); }, ErrorCode::invalid_argument,
               {"--api-key-file", "missing", "cannot be read"});
}

TEST(ListenAddress, ParsesHostsAndPorts) {
  const ListenAddress v4 = parse_listen_address("127.0.0.1:8080", "--listen");
  EXPECT_EQ(v4.host, "127.0.0.1");
  EXPECT_EQ(v4.port, 8080);
  const ListenAddress v6 = parse_listen_address("[::1]:0", "--listen");
  EXPECT_EQ(v6.host, "::1");
  EXPECT_EQ(v6.port, 0);
  EXPECT_EQ(parse_listen_address("localhost:65535", "--listen").host, "localhost");
  for (const char* bad : {"8080", ":8080", "host:", "host:65536", "host:80x", "::1:80", "[]:80"}) {
    expect_error([&] { parse_listen_address(bad, "HADES_LISTEN"); }, ErrorCode::invalid_argument,
                 {"HADES_LISTEN '" + std::string(bad) + "'"});
  }
}

TEST(ListenAddress, BindsLoopbackAndReportsTheBoundPort) {
  const TcpListening v4 = listen_on_tcp(parse_listen_address("127.0.0.1:0", "--listen"));
  EXPECT_TRUE(v4.loopback);
  EXPECT_EQ(v4.address.rfind("127.0.0.1:", 0), 0u) << v4.address;
  EXPECT_NE(v4.address, "127.0.0.1:0");
  const TcpListening any = listen_on_tcp(parse_listen_address("0.0.0.0:0", "--listen"));
  EXPECT_FALSE(any.loopback);
  // The same port again is in use.
  const std::string port = v4.address.substr(v4.address.rfind(':') + 1);
  expect_error([&] { listen_on_tcp(parse_listen_address("127.0.0.1:" + port, "--listen")); },
               ErrorCode::conflict, {"cannot listen on 127.0.0.1 port " + port});
}

TEST(AllowedUids, ParsesUidsSeparatedByCommas) {
  EXPECT_EQ(parse_uid_list("1000", "HADES_ALLOWED_UIDS"), std::vector<uid_t>{1000});
  EXPECT_EQ(parse_uid_list("0,1000,4294967294", "HADES_ALLOWED_UIDS"),
            (std::vector<uid_t>{0, 1000, 4294967294u}));
  for (const char* bad :
       {"", "1000,", ",1000", "10 00", "-1", "alice", "4294967295", "99999999999"}) {
    expect_error([&] { parse_uid_list(bad, "HADES_ALLOWED_UIDS"); }, ErrorCode::invalid_argument,
                 {"HADES_ALLOWED_UIDS", "not a user id"});
  }
}

}  // namespace
}  // namespace hades::server
