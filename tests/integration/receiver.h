// A scripted HTTP receiver on 127.0.0.1 standing in for an affiliate's postback endpoint.
#ifndef RICOCHET_TESTS_INTEGRATION_RECEIVER_H_
#define RICOCHET_TESTS_INTEGRATION_RECEIVER_H_

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace ricochet::testing {

class Receiver {
 public:
  Receiver();  // listens on a free port at once
  ~Receiver();
  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;

  int port() const { return port_; }
  // Answers to give, in order; the last one repeats. A status code ("200", "500", "302" with a
  // Location to another port) or "hang": read the request and never answer.
  void Script(std::vector<std::string> answers);
  // Request heads received so far (request line and headers).
  std::vector<std::string> Requests() const;
  size_t count() const;

 private:
  void Run();
  std::string NextAnswer();

  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::vector<std::string> script_{"200"};
  size_t next_ = 0;
  std::vector<std::string> requests_;
  std::vector<int> hung_;
  std::thread thread_;
};

}  // namespace ricochet::testing

#endif  // RICOCHET_TESTS_INTEGRATION_RECEIVER_H_
