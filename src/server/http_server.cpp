#include "server/http_server.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <list>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "hades/error.hpp"
#include "server/peer_credentials.hpp"

namespace hades::server {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
// One socket type for the Unix socket and TCP alike.
using Protocol = net::generic::stream_protocol;
using Stream = beast::basic_stream<Protocol, net::any_io_executor, beast::unlimited_rate_policy>;
using Request = http::request<http::string_body>;
using Clock = std::chrono::steady_clock;

// After refusing a request whose body was not read (413), the server keeps reading and
// discarding for this long before closing, so that a client still writing its body gets to read
// the answer instead of a broken pipe.
constexpr std::chrono::seconds kDiscardTime{5};

// The most bytes of a request's start read before the header parser takes over.
constexpr size_t kFirstReadBytes = size_t{16} * 1024;

bool is_disconnect(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == http::error::partial_message ||
         ec == net::error::eof || ec == beast::error::timeout ||
         ec == net::error::operation_aborted || ec == net::error::connection_reset ||
         ec == net::error::broken_pipe || ec == net::error::bad_descriptor;
}

class Session;

// One listening socket, with what its connections require.
struct Acceptor {
  explicit Acceptor(net::io_context& io) : socket(net::make_strand(io)) {}
  net::basic_socket_acceptor<Protocol> socket;
  std::shared_ptr<const ApiKey> api_key;
  bool tcp = false;
};

// The state every connection shares; HttpServer::Impl is this.
struct ServerCore {
  ServerCore(Router& r, Logger& l, const ServerOptions& o)
      : router(r), log(l), options(o), workers(std::max<size_t>(o.worker_threads, 1)) {}

  void accept(Acceptor& acceptor);
  void on_accept(Acceptor& acceptor, beast::error_code ec, Protocol::socket socket);
  bool close_longest_idle();
  void refuse_connection(Protocol::socket socket);
  bool peer_allowed(Protocol::socket& socket);

  // Requests read and not yet answered; drain waits for zero.
  void request_started() {
    std::lock_guard lock(idle_mutex);
    ++requests_in_flight;
  }
  void request_finished() {
    std::lock_guard lock(idle_mutex);
    if (--requests_in_flight == 0) idle.notify_all();
  }
  // A slot of the in-flight limit for a request that calls the engine.
  bool try_take_engine_slot() {
    size_t current = engine_calls.load();
    while (current < options.max_in_flight) {
      if (engine_calls.compare_exchange_weak(current, current + 1)) return true;
    }
    return false;
  }

  std::list<std::weak_ptr<Session>>::iterator remember(std::weak_ptr<Session> session) {
    std::lock_guard lock(sessions_mutex);
    return sessions.insert(sessions.end(), std::move(session));
  }
  void forget(std::list<std::weak_ptr<Session>>::iterator it) {
    std::lock_guard lock(sessions_mutex);
    sessions.erase(it);
  }

  Router& router;
  Logger& log;
  const ServerOptions options;
  std::atomic<bool> shutting_down{false};
  std::atomic<size_t> connections{0};
  std::atomic<size_t> engine_calls{0};

  std::mutex idle_mutex;
  std::condition_variable idle;
  size_t requests_in_flight = 0;

  // Declared before the io_context: destroying it destroys pending handlers, and with them
  // sessions that unregister themselves here.
  std::mutex sessions_mutex;
  std::list<std::weak_ptr<Session>> sessions;

  net::io_context io;
  std::vector<std::unique_ptr<Acceptor>> acceptors;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  net::thread_pool workers;
  std::vector<std::thread> io_threads;
  bool stopped = false;
};

// One connection: read a request, answer it, repeat while the client keeps the connection alive.
// Every handler runs on the connection's strand.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(ServerCore& server, Protocol::socket socket, std::shared_ptr<const ApiKey> api_key)
      : server_(server),
        stream_(std::move(socket)),
        api_key_(std::move(api_key)),
        fd_(stream_.socket().native_handle()) {
    ++server_.connections;
  }
  ~Session() {
    if (registered_) server_.forget(registration_);
    --server_.connections;
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void start() {
    registration_ = server_.remember(weak_from_this());
    registered_ = true;
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read_request(); });
  }

  net::any_io_executor executor() { return stream_.get_executor(); }

  // At shutdown, or to make room at the connection limit: a connection waiting for a request is
  // closed; one that is reading, running or answering a request finishes it first.
  void close_if_idle() {
    if (reading_ && buffer_.size() == 0 && parser_ && !parser_->got_some() && !request_waiting()) {
      close();
    }
  }

  // Since when the connection has waited for its next request with nothing of it read, or
  // nullopt; any thread may ask. A true answer may be stale: close_if_idle decides.
  std::optional<Clock::time_point> idle_since() const {
    if (!idle_ || request_waiting()) return std::nullopt;
    return Clock::time_point(Clock::duration(idle_since_ticks_.load()));
  }
  // Takes the connection out of idle_since's answers, so that it is picked only once; false when
  // another thread took it first or it is no longer idle.
  bool claim_idle() { return idle_.exchange(false); }

 private:
  void read_request();
  void read_header();
  void on_header(beast::error_code ec);
  void read_body();
  void on_body(beast::error_code ec);
  void on_read_error(beast::error_code ec);
  void dispatch_request();
  void watch_hangup(const std::shared_ptr<std::atomic<bool>>& cancelled);
  void run_on_workers(Request request);
  void write(HttpReply reply, bool keep_alive);
  void on_write(beast::error_code ec);
  void discard_then_close();
  // Whether bytes of a request wait in the socket, unread: on a loaded machine the read that
  // takes them may not have run yet, and the client, which has sent its request, is not idle.
  bool request_waiting() const {
    int bytes = 0;
    return ::ioctl(fd_, FIONREAD, &bytes) == 0 && bytes > 0;
  }
  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(Protocol::socket::shutdown_both, ignored);
    stream_.close();
  }

  ServerCore& server_;
  Stream stream_;
  const std::shared_ptr<const ApiKey> api_key_;  // null: none asked on this listener
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
  std::array<char, size_t{64} * 1024> discard_buffer_{};
  std::list<std::weak_ptr<Session>>::iterator registration_;
  bool registered_ = false;
  bool reading_ = false;
  bool keep_alive_ = false;
  bool counted_ = false;  // the request being answered counts in requests_in_flight
  // Written on the strand, read by the acceptor (idle_since).
  std::atomic<bool> idle_{false};
  std::atomic<Clock::rep> idle_since_ticks_{0};
  // The socket's descriptor, for request_waiting from the acceptor's thread without touching the
  // stream. Once the strand has closed it the number may be reused; a wrong answer then only
  // spares or picks a connection that is going anyway.
  const int fd_;
};

void Session::read_request() {
  if (server_.shutting_down) return close();
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(server_.options.max_header_bytes));
  parser_->body_limit(server_.options.max_body_bytes);
  reading_ = true;
  stream_.expires_after(server_.options.read_timeout);
  if (buffer_.size() > 0) return read_header();  // a pipelined request has begun
  // The first bytes are awaited on their own, so that a connection with nothing of a request
  // read is known to be idle (close_longest_idle).
  idle_since_ticks_ = Clock::now().time_since_epoch().count();
  idle_ = true;
  stream_.async_read_some(buffer_.prepare(kFirstReadBytes),
                          [self = shared_from_this()](beast::error_code ec, size_t n) {
                            self->idle_ = false;
                            if (ec) return self->on_read_error(ec);
                            self->buffer_.commit(n);
                            self->read_header();
                          });
}

void Session::read_header() {
  http::async_read_header(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code ec, size_t) { self->on_header(ec); });
}

void Session::on_header(beast::error_code ec) {
  if (ec) return on_read_error(ec);
  if (parser_->is_done()) return on_body({});
  const auto expect = parser_->get()[http::field::expect];
  if (!beast::iequals(expect, "100-continue")) return read_body();
  // curl sends `Expect: 100-continue` with larger bodies and waits for this before sending them.
  auto interim = std::make_shared<http::response<http::empty_body>>(http::status::continue_,
                                                                    parser_->get().version());
  http::async_write(stream_, *interim,
                    [self = shared_from_this(), interim](beast::error_code write_ec, size_t) {
                      if (write_ec) return self->close();
                      self->read_body();
                    });
}

// The deadline set in read_request still runs: the read timeout bounds the whole request, so
// that a client trickling its body cannot hold the connection for a second read timeout.
void Session::read_body() {
  http::async_read(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code ec, size_t) { self->on_body(ec); });
}

void Session::on_body(beast::error_code ec) {
  reading_ = false;
  if (ec) return on_read_error(ec);
  stream_.expires_never();
  dispatch_request();
}

void Session::on_read_error(beast::error_code ec) {
  reading_ = false;
  if (is_disconnect(ec)) return close();
  std::string_view method = "", target = "";
  if (parser_ && parser_->is_header_done()) {
    method = parser_->get().method_string();
    target = parser_->get().target();
  }
  const bool too_large = ec == http::error::body_limit || ec == http::error::header_limit;
  const Error error =
      too_large ? Error(ErrorCode::too_large,
                        ec == http::error::body_limit
                            ? "request body over the limit of " +
                                  std::to_string(server_.options.max_body_bytes) + " bytes"
                            : "request headers over the limit of " +
                                  std::to_string(server_.options.max_header_bytes) + " bytes")
                : Error(ErrorCode::invalid_argument, "malformed HTTP request: " + ec.message());
  // The rest of the request cannot be told from the next one: answer and close.
  write(server_.router.refuse(method, target, error), false);
}

void Session::dispatch_request() {
  Request request = parser_->release();
  keep_alive_ = request.keep_alive();
  server_.request_started();
  counted_ = true;
  const std::string_view method = request.method_string();
  const std::string_view target = request.target();
  if (server_.shutting_down) {
    return write(server_.router.refuse(method, target,
                                       Error(ErrorCode::shutting_down,
                                             "the service is shutting down; retry once it is "
                                             "restarted")),
                 false);
  }
  if (api_key_ && server_.router.needs_key(method, target) &&
      !api_key_->accepts(request[http::field::authorization])) {
    return write(
        server_.router.refuse(
            method, target,
            Error(ErrorCode::unauthorized,
                  "this route needs the service's API key: send Authorization: Bearer KEY")),
        keep_alive_);
  }
  if (!server_.router.is_blocking(method, target)) {
    return write(server_.router.handle(method, target, request.body()), keep_alive_);
  }
  if (!server_.try_take_engine_slot()) {
    return write(
        server_.router.refuse(method, target,
                              Error(ErrorCode::overloaded,
                                    "overloaded: " + std::to_string(server_.options.max_in_flight) +
                                        " requests are in flight; retry later")),
        keep_alive_);
  }
  run_on_workers(std::move(request));
}

void Session::run_on_workers(Request request) {
  auto cancelled = std::make_shared<std::atomic<bool>>(false);
  watch_hangup(cancelled);
  net::post(server_.workers, [self = shared_from_this(), request = std::move(request), cancelled] {
    HttpReply reply = self->server_.router.handle(request.method_string(), request.target(),
                                                  request.body(), cancelled);
    --self->server_.engine_calls;
    net::post(self->stream_.get_executor(), [self, reply = std::move(reply)]() mutable {
      self->write(std::move(reply), self->keep_alive_);
    });
  });
}

// While the workers run a request nothing reads the socket, so a client that hangs up would go
// unnoticed until the answer is written. Waiting for the socket to turn readable catches it: at
// end of stream (or a reset) the request is cancelled, and its queued work is dropped. Readable
// with data is a pipelined next request, left for the next read.
void Session::watch_hangup(const std::shared_ptr<std::atomic<bool>>& cancelled) {
  auto& socket = stream_.socket();
  socket.async_wait(
      net::socket_base::wait_read, [self = shared_from_this(), cancelled](beast::error_code ec) {
        if (ec) return;  // the session closed the socket
        char byte = 0;
        const ssize_t got =
            ::recv(self->stream_.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
        if (got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
          cancelled->store(true);
      });
}

void Session::write(HttpReply reply, bool keep_alive) {
  keep_alive = keep_alive && !server_.shutting_down;
  response_ = {};
  response_.version(11);
  response_.result(static_cast<unsigned>(reply.status));
  response_.set(http::field::server, "hades");
  response_.set(http::field::content_type, reply.content_type);
  if (reply.retry_after_seconds) {
    response_.set(http::field::retry_after, std::to_string(*reply.retry_after_seconds));
  }
  if (reply.status == 401) response_.set(http::field::www_authenticate, "Bearer");
  if (!reply.allow.empty()) response_.set(http::field::allow, reply.allow);
  response_.body() = std::move(reply.body);
  response_.keep_alive(keep_alive);
  response_.prepare_payload();
  keep_alive_ = keep_alive;
  stream_.expires_after(server_.options.write_timeout);
  http::async_write(stream_, response_, [self = shared_from_this()](beast::error_code ec, size_t) {
    self->on_write(ec);
  });
}

void Session::on_write(beast::error_code ec) {
  if (counted_) {
    counted_ = false;
    server_.request_finished();
  }
  if (ec) return close();
  if (keep_alive_) return read_request();
  // A request refused before its body was read may still be arriving.
  if (parser_ && !parser_->is_done()) return discard_then_close();
  close();
}

void Session::discard_then_close() {
  beast::error_code ignored;
  stream_.socket().shutdown(Protocol::socket::shutdown_send, ignored);
  stream_.expires_after(kDiscardTime);
  stream_.async_read_some(net::buffer(discard_buffer_),
                          [self = shared_from_this()](beast::error_code ec, size_t) {
                            if (ec) return self->close();
                            self->discard_then_close();
                          });
}

}  // namespace

struct HttpServer::Impl : ServerCore {
  using ServerCore::ServerCore;
};

namespace {

void ServerCore::accept(Acceptor& acceptor) {
  acceptor.socket.async_accept(net::make_strand(io),
                               [this, &acceptor](beast::error_code ec, Protocol::socket s) {
                                 on_accept(acceptor, ec, std::move(s));
                               });
}

void ServerCore::on_accept(Acceptor& acceptor, beast::error_code ec, Protocol::socket socket) {
  if (ec == net::error::operation_aborted || !acceptor.socket.is_open()) return;
  if (ec) {
    // Out of descriptors (EMFILE) and the like: wait a little rather than spin on the error.
    log.warn("accept failed: " + ec.message());
    auto timer = std::make_shared<net::steady_timer>(acceptor.socket.get_executor(),
                                                     std::chrono::milliseconds(100));
    timer->async_wait([this, timer, &acceptor](beast::error_code) {
      if (acceptor.socket.is_open()) accept(acceptor);
    });
    return;
  }
  if (acceptor.tcp) {
    // Answers are written whole; Nagle's algorithm would only hold back their last segment.
    const int one = 1;
    ::setsockopt(socket.native_handle(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  if (!acceptor.tcp && !peer_allowed(socket)) {
    // Closed unread: nothing of the service is shown to a peer it does not serve.
  } else if (connections.load() >= options.max_connections && !close_longest_idle()) {
    refuse_connection(std::move(socket));
  } else {
    std::make_shared<Session>(*this, std::move(socket), acceptor.api_key)->start();
  }
  accept(acceptor);
}

// At the connection limit: closes the connection that has waited longest for its next request
// (a client's pool, a leak), so that idle connections cannot lock out a client with a request.
// False when every connection is busy with a request. The closed one goes a moment later, on its
// strand, so the limit may be passed by the few connections accepted meanwhile.
bool ServerCore::close_longest_idle() {
  std::vector<std::shared_ptr<Session>> open;  // released after the lock: ~Session takes it
  {
    std::lock_guard lock(sessions_mutex);
    for (const auto& weak : sessions) {
      if (auto session = weak.lock()) open.push_back(std::move(session));
    }
  }
  std::shared_ptr<Session> longest;
  std::optional<Clock::time_point> longest_since;
  for (const auto& session : open) {
    const auto since = session->idle_since();
    if (since && (!longest_since || *since < *longest_since)) {
      longest = session;
      longest_since = since;
    }
  }
  if (!longest || !longest->claim_idle()) return false;
  net::post(longest->executor(), [longest] { longest->close_if_idle(); });
  return true;
}

// With allowed uids, a connection on the Unix socket from another uid is closed, and logged.
bool ServerCore::peer_allowed(Protocol::socket& socket) {
  if (options.allowed_uids.empty()) return true;
  const std::optional<uid_t> uid = peer_uid(socket.native_handle());
  if (uid && std::find(options.allowed_uids.begin(), options.allowed_uids.end(), *uid) !=
                 options.allowed_uids.end()) {
    return true;
  }
  log.warn("closed a connection on the socket from uid " +
           (uid ? std::to_string(*uid) : std::string("unknown")) +
           ": not among the allowed uids (--allowed-uids, HADES_ALLOWED_UIDS)");
  beast::error_code ignored;
  socket.close(ignored);
  return false;
}

// Over the connection limit: a canned overloaded answer (429) without reading the request, then
// close.
void ServerCore::refuse_connection(Protocol::socket socket) {
  const HttpReply reply = router.refuse(
      "", "",
      Error(ErrorCode::overloaded, "overloaded: " + std::to_string(options.max_connections) +
                                       " connections are open; retry later"));
  const std::string status_line =
      "HTTP/1.1 " + std::to_string(reply.status) + " " +
      std::string(http::obsolete_reason(http::int_to_status(static_cast<unsigned>(reply.status))));
  auto text = std::make_shared<std::string>(
      status_line + "\r\nServer: hades\r\nContent-Type: application/json\r\nRetry-After: " +
      std::to_string(options.retry_after_seconds) + "\r\nConnection: close\r\nContent-Length: " +
      std::to_string(reply.body.size()) + "\r\n\r\n" + reply.body);
  auto owned = std::make_shared<Protocol::socket>(std::move(socket));
  net::async_write(*owned, net::buffer(*text), [owned, text](beast::error_code, size_t) {
    beast::error_code ignored;
    owned->shutdown(Protocol::socket::shutdown_both, ignored);
    owned->close(ignored);
  });
}

}  // namespace

HttpServer::HttpServer(Router& router, Logger& log, const ServerOptions& options,
                       std::vector<Listener> listeners)
    : impl_(std::make_unique<Impl>(router, log, options)) {
  for (Listener& listener : listeners) {
    auto acceptor = std::make_unique<Acceptor>(impl_->io);
    acceptor->tcp = listener.family != AF_UNIX;
    acceptor->api_key = std::move(listener.api_key);
    beast::error_code ec;
    acceptor->socket.assign(Protocol(listener.family, acceptor->tcp ? IPPROTO_TCP : 0),
                            listener.fd.get(), ec);
    if (ec) throw Error(ErrorCode::io_error, "cannot use a listening socket: " + ec.message());
    listener.fd.release();
    impl_->acceptors.push_back(std::move(acceptor));
  }
  router.set_gauge_source([this] { return gauges(); });
}

HttpServer::~HttpServer() {
  stop();
}

void HttpServer::start() {
  impl_->work.emplace(impl_->io.get_executor());
  for (const auto& acceptor : impl_->acceptors) {
    net::dispatch(acceptor->socket.get_executor(),
                  [impl = impl_.get(), a = acceptor.get()] { impl->accept(*a); });
  }
  for (size_t i = 0; i < std::max<size_t>(impl_->options.io_threads, 1); ++i) {
    impl_->io_threads.emplace_back([impl = impl_.get()] { impl->io.run(); });
  }
}

void HttpServer::begin_shutdown() {
  impl_->shutting_down = true;
  for (const auto& acceptor : impl_->acceptors) {
    net::post(acceptor->socket.get_executor(), [a = acceptor.get()] {
      beast::error_code ignored;
      a->socket.close(ignored);
    });
  }
  std::vector<std::shared_ptr<Session>> open;
  {
    std::lock_guard lock(impl_->sessions_mutex);
    for (const auto& weak : impl_->sessions) {
      if (auto session = weak.lock()) open.push_back(std::move(session));
    }
  }
  for (auto& session : open) {
    net::post(session->executor(), [session] { session->close_if_idle(); });
  }
}

bool HttpServer::wait_until_idle(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(impl_->idle_mutex);
  return impl_->idle.wait_until(lock, deadline, [&] { return impl_->requests_in_flight == 0; });
}

void HttpServer::stop() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  impl_->workers.join();
  impl_->work.reset();
  impl_->io.stop();
  for (std::thread& t : impl_->io_threads) t.join();
  impl_->io_threads.clear();
}

ServerGauges HttpServer::gauges() const {
  ServerGauges g;
  {
    std::lock_guard lock(impl_->idle_mutex);
    g.requests_in_flight = impl_->requests_in_flight;
  }
  g.connections = impl_->connections.load();
  return g;
}

}  // namespace hades::server
