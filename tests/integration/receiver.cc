#include "receiver.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>

namespace ricochet::testing {

Receiver::Receiver() {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(listen_fd_, 64) != 0) {
    throw std::runtime_error("receiver: cannot listen");
  }
  socklen_t len = sizeof(addr);
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { Run(); });
}

Receiver::~Receiver() {
  stop_ = true;
  thread_.join();
  ::close(listen_fd_);
  for (int fd : hung_) ::close(fd);
}

void Receiver::Script(std::vector<std::string> answers) {
  std::lock_guard<std::mutex> lock(mu_);
  script_ = std::move(answers);
  next_ = 0;
}

std::vector<std::string> Receiver::Requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

size_t Receiver::count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_.size();
}

std::string Receiver::NextAnswer() {
  std::lock_guard<std::mutex> lock(mu_);
  std::string a = script_[std::min(next_, script_.size() - 1)];
  ++next_;
  return a;
}

void Receiver::Run() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 20) <= 0) continue;
    int fd = ::accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) continue;
    std::string head;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (head.find("\r\n\r\n") == std::string::npos &&
           std::chrono::steady_clock::now() < deadline) {
      pollfd q{fd, POLLIN, 0};
      if (::poll(&q, 1, 50) <= 0) continue;
      char buf[4096];
      ssize_t n = ::read(fd, buf, sizeof(buf));
      if (n <= 0) break;
      head.append(buf, static_cast<size_t>(n));
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      requests_.push_back(head.substr(0, head.find("\r\n\r\n")));
    }
    std::string answer = NextAnswer();
    if (answer == "hang") {
      hung_.push_back(fd);
      continue;
    }
    std::string response =
        "HTTP/1.1 " + answer + " X\r\nContent-Length: 2\r\nConnection: close\r\n";
    if (answer[0] == '3') response += "Location: http://127.0.0.1:9/elsewhere\r\n";
    response += "\r\nok";
    (void)!::write(fd, response.data(), response.size());
    ::close(fd);
  }
}

}  // namespace ricochet::testing
