// The TCP rendezvous over loopback: rank 0 hands its NCCL id to the others; a rank alone, a
// peer that speaks another protocol and a wrong world size each end in a clear error.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "daemon/rendezvous.h"
#include "daemon/workers.h"
#include "util/atomic_file.h"

namespace tpjit::daemon {
namespace {

using namespace std::chrono_literals;

// A loopback socket bound to a port the kernel picks; listening when `listen_now`.
UniqueFd bound_socket(uint16_t* port, bool listen_now) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sa;
  EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  EXPECT_EQ(::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&sa), &len), 0);
  if (listen_now) {
    EXPECT_EQ(::listen(fd.get(), 8), 0);
  }
  *port = ntohs(sa.sin_port);
  return fd;
}

// A port nobody listens on (bound, then released: the rendezvous binds it with SO_REUSEADDR).
RendezvousAddress free_address() {
  uint16_t port = 0;
  bound_socket(&port, false);
  return {"127.0.0.1", port};
}

std::string id_of(char c) { return std::string(256, c); }

TEST(Rendezvous, ParsesHostAndPortAndRefusesTheRest) {
  auto a = parse_rendezvous("127.0.0.1:29500");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->port, 29500);
  for (const char* bad : {"127.0.0.1", ":29500", "127.0.0.1:0", "127.0.0.1:70000", "host:1"})
    EXPECT_FALSE(parse_rendezvous(bad).ok()) << bad;
}

TEST(Rendezvous, EveryRankGetsRankZerosId) {
  const auto address = free_address();
  auto published = std::async(std::launch::async, [&] {
    return rendezvous_publish(address, 3, id_of('7'), 20s);
  });
  auto one = std::async(std::launch::async, [&] { return rendezvous_fetch(address, 1, 3, 20s); });
  auto two = std::async(std::launch::async, [&] { return rendezvous_fetch(address, 2, 3, 20s); });
  auto r1 = one.get(), r2 = two.get();
  ASSERT_TRUE(r1.ok()) << r1.error().message;
  ASSERT_TRUE(r2.ok()) << r2.error().message;
  EXPECT_EQ(*r1, id_of('7'));
  EXPECT_EQ(*r2, id_of('7'));
  Status s = published.get();
  EXPECT_TRUE(s.ok()) << s.error().message;
}

TEST(Rendezvous, ARankAloneFailsAfterItsDeadline) {
  const auto address = free_address();
  const auto start = std::chrono::steady_clock::now();
  auto r = rendezvous_fetch(address, 1, 2, 600ms);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, kErrRendezvous);
  EXPECT_NE(r.error().message.find("nobody listened"), std::string::npos) << r.error().message;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);

  Status s = rendezvous_publish(address, 2, id_of('1'), 600ms);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, kErrRendezvous);
  EXPECT_NE(s.error().message.find("rank(s) 1 did not connect"), std::string::npos)
      << s.error().message;
}

TEST(Rendezvous, RankZeroIgnoresAForeignPeerAndAWrongWorldAndKeepsWaiting) {
  const auto address = free_address();
  auto published = std::async(std::launch::async, [&] {
    return rendezvous_publish(address, 3, id_of('c'), 20s);
  });
  // Once rank 1 is served, rank 0 is listening until rank 2 comes.
  auto r1 = rendezvous_fetch(address, 1, 3, 20s);
  ASSERT_TRUE(r1.ok()) << r1.error().message;

  UniqueFd foreign(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(address.port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(foreign.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  const std::string http = "GET / HTTP/1.1\r\n";  // 16 bytes, like a hello
  ASSERT_EQ(::write(foreign.get(), http.data(), http.size()), ssize_t(http.size()));
  char byte;
  EXPECT_EQ(::read(foreign.get(), &byte, 1), 0);  // dropped without an answer

  auto wrong = rendezvous_fetch(address, 2, 4, 20s);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code, kErrRendezvous);
  EXPECT_NE(wrong.error().message.find("world sizes differ"), std::string::npos)
      << wrong.error().message;
  auto taken = rendezvous_fetch(address, 1, 3, 20s);
  ASSERT_FALSE(taken.ok());
  EXPECT_NE(taken.error().message.find("already taken"), std::string::npos);

  auto r2 = rendezvous_fetch(address, 2, 3, 20s);
  ASSERT_TRUE(r2.ok()) << r2.error().message;
  EXPECT_EQ(*r2, id_of('c'));
  EXPECT_TRUE(published.get().ok());
}

TEST(Rendezvous, ARankRefusesAPeerThatIsNotARendezvous) {
  uint16_t port = 0;
  UniqueFd listener = bound_socket(&port, true);
  auto impostor = std::async(std::launch::async, [&] {
    UniqueFd peer(::accept(listener.get(), nullptr, nullptr));
    char hello[16];
    size_t got = 0;
    while (got < sizeof hello) {
      ssize_t k = ::read(peer.get(), hello + got, sizeof hello - got);
      if (k <= 0) return;
      got += size_t(k);
    }
    const std::string answer(12 + 256, 'X');
    (void)!::write(peer.get(), answer.data(), answer.size());
  });
  auto r = rendezvous_fetch({"127.0.0.1", port}, 1, 2, 10s);
  impostor.get();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, kErrRendezvous);
  EXPECT_NE(r.error().message.find("not a tpjitd rendezvous"), std::string::npos) << r.error().message;
}

}  // namespace
}  // namespace tpjit::daemon
