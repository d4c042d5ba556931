// The client's HTTP response parser: any split of the bytes, every body framing, malformed input.
#include <gtest/gtest.h>

#include <string>

#include "client/http.hpp"
#include "hades/error.hpp"

namespace hades::client {
namespace {

// Feeds TEXT to a parser in pieces of STEP bytes; returns the response once complete.
HttpResponse parse_in_steps(const std::string& text, size_t step, bool close_at_end = false) {
  ResponseParser parser;
  for (size_t i = 0; i < text.size(); i += step) {
    if (parser.feed(std::string_view(text).substr(i, step))) return parser.take();
  }
  if (close_at_end) {
    parser.finish_on_close();
    return parser.take();
  }
  ADD_FAILURE() << "the response never completed";
  return {};
}

TEST(ClientHttp, ContentLengthBodyInEverySplit) {
  const std::string text =
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"a\": "
      "true}";
  for (size_t step = 1; step <= text.size(); ++step) {
    const HttpResponse response = parse_in_steps(text, step);
    EXPECT_EQ(response.status, 200);
    EXPECT_EQ(response.body, "{\"a\": true}") << "step " << step;
    EXPECT_TRUE(response.keep_alive);
    EXPECT_EQ(response.header("content-type"), "application/json");
  }
}

TEST(ClientHttp, ChunkedBodyWithExtensionsAndTrailers) {
  const std::string text =
      "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n"
      "4;ext=1\r\n{\"er\r\n"
      "A\r\nror\": 1234\r\n"
      "1\r\n}\r\n"
      "0\r\nX-Trailer: yes\r\n\r\n";
  for (size_t step = 1; step <= text.size(); step += 3) {
    const HttpResponse response = parse_in_steps(text, step);
    EXPECT_EQ(response.status, 404);
    EXPECT_EQ(response.body, "{\"error\": 1234}") << "step " << step;
  }
}

TEST(ClientHttp, BodyUntilCloseAndConnectionHeaders) {
  const HttpResponse until_close =
      parse_in_steps("HTTP/1.1 200 OK\r\n\r\nall of it", 4, /*close_at_end=*/true);
  EXPECT_EQ(until_close.body, "all of it");
  EXPECT_FALSE(until_close.keep_alive);

  EXPECT_FALSE(
      parse_in_steps("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", 7)
          .keep_alive);
  EXPECT_FALSE(parse_in_steps("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", 5).keep_alive);
  EXPECT_TRUE(
      parse_in_steps("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", 5)
          .keep_alive);
}

TEST(ClientHttp, InformationalResponseIsSkipped) {
  const HttpResponse response = parse_in_steps(
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok", 6);
  EXPECT_EQ(response.status, 201);
  EXPECT_EQ(response.body, "ok");
}

TEST(ClientHttp, MalformedResponsesAreIoErrors) {
  for (const char* text :
       {"SMTP ready\r\n\r\n", "HTTP/1.1 2x0 OK\r\n\r\n", "HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"}) {
    ResponseParser parser;
    try {
      parser.feed(text);
      ADD_FAILURE() << "accepted: " << text;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::io_error) << text;
      EXPECT_NE(std::string(e.what()).find("malformed HTTP response"), std::string::npos);
    }
  }
}

TEST(ClientHttp, TruncatedResponsesAreIoErrors) {
  for (const char* text :
       {"HTTP/1.1 200 OK\r\nContent-Le", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"}) {
    ResponseParser parser;
    EXPECT_FALSE(parser.feed(text));
    EXPECT_TRUE(parser.started());
    EXPECT_THROW(parser.finish_on_close(), Error) << text;
  }
}

TEST(ClientHttp, HugeHeadersAndBodiesAreRefused) {
  ResponseParser headers;
  EXPECT_THROW(headers.feed("HTTP/1.1 200 OK\r\nX: " + std::string(kMaxHeaderBytes, 'a')), Error);
  ResponseParser body;
  try {
    body.feed("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999\r\n\r\n");
    ADD_FAILURE() << "accepted a body over the limit";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::too_large);
  }
}

TEST(ClientHttp, RequestsCarryHostAndJsonBody) {
  EXPECT_EQ(format_request("GET", "/health", ""),
            "GET /health HTTP/1.1\r\nHost: localhost\r\nUser-Agent: hades-client\r\n"
            "Accept: application/json\r\n\r\n");
  const std::string post = format_request("POST", "/v1/embed", "{\"x\":1}");
  EXPECT_NE(post.find("Content-Type: application/json\r\nContent-Length: 7\r\n\r\n{\"x\":1}"),
            std::string::npos);
}

}  // namespace
}  // namespace hades::client
