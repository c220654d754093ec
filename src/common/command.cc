#include "ocsp_staple_exporter/common/command.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ocsp_staple_exporter/common/asio.h"
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <cstring>
#include <memory>

extern char** environ;

namespace ose {
namespace {

struct SpawnActions {
  posix_spawn_file_actions_t a;
  SpawnActions() { posix_spawn_file_actions_init(&a); }
  ~SpawnActions() { posix_spawn_file_actions_destroy(&a); }
};

struct SpawnAttr {
  posix_spawnattr_t a;
  SpawnAttr() { posix_spawnattr_init(&a); }
  ~SpawnAttr() { posix_spawnattr_destroy(&a); }
};

// One running child: its pidfd on the event loop and its deadline.
struct Child : std::enable_shared_from_this<Child> {
  Child(asio::io_context& io, pid_t p, int fd)
      : pid(p), pidfd(io, fd), deadline(io) {}
  pid_t pid;
  asio::posix::stream_descriptor pidfd;
  asio::steady_timer deadline;
  bool reaped = false;
  std::function<void(int, const std::string&)> done;
  int* running = nullptr;

  void Reap() {
    if (reaped) return;
    int status = 0;
    pid_t r;
    do {
      r = ::waitpid(pid, &status, WNOHANG);
    } while (r < 0 && errno == EINTR);
    if (r == 0) return;  // not yet: wait again
    reaped = true;
    deadline.cancel();
    boost::system::error_code ignored;
    pidfd.close(ignored);
    --*running;
    int code = r < 0                ? -1
               : WIFEXITED(status)  ? WEXITSTATUS(status)
               : WIFSIGNALED(status) ? 128 + WTERMSIG(status)
                                     : -1;
    if (done) done(code, r < 0 ? std::strerror(errno) : "");
  }

  void Watch() {
    auto self = shared_from_this();
    pidfd.async_wait(asio::posix::stream_descriptor::wait_read,
                     [self](const boost::system::error_code& ec) {
                       if (ec) return;
                       self->Reap();
                       if (!self->reaped) self->Watch();
                     });
  }
};

}  // namespace

pid_t CommandRunner::Run(const std::string& command,
                         const std::vector<std::pair<std::string, std::string>>& env,
                         std::chrono::milliseconds timeout,
                         std::function<void(int, const std::string&)> done) {
  std::vector<std::string> vars;
  for (char** e = environ; *e != nullptr; ++e) vars.emplace_back(*e);
  for (const auto& [k, v] : env) vars.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& v : vars) envp.push_back(v.data());
  envp.push_back(nullptr);
  const char* argv[] = {"/bin/sh", "-c", command.c_str(), nullptr};

  SpawnActions actions;
  posix_spawn_file_actions_addopen(&actions.a, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addclosefrom_np(&actions.a, 3);
  SpawnAttr attr;
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr.a, &all);
  posix_spawnattr_setsigmask(&attr.a, &none);
  posix_spawnattr_setpgroup(&attr.a, 0);
  posix_spawnattr_setflags(&attr.a, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK |
                                        POSIX_SPAWN_SETPGROUP);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, "/bin/sh", &actions.a, &attr.a, const_cast<char**>(argv),
                       envp.data());
  if (rc != 0) {
    std::string err = std::string("posix_spawn: ") + std::strerror(rc);
    if (done) done(-1, err);
    return -1;
  }
  // glibc 2.36 declares pidfd_open without C linkage for C++: the syscall.
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) {
    // No pidfd (old kernel): kill the child rather than leave it unwatched.
    std::string err = std::string("pidfd_open: ") + std::strerror(errno);
    ::kill(-pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    if (done) done(-1, err);
    return -1;
  }
  ++running_;
  auto child = std::make_shared<Child>(io_, pid, fd);
  child->done = std::move(done);
  child->running = &running_;
  child->deadline.expires_after(timeout);
  std::weak_ptr<Child> weak = child;
  child->deadline.async_wait([weak](const boost::system::error_code& ec) {
    auto c = weak.lock();
    if (ec || !c || c->reaped) return;
    ::kill(-c->pid, SIGKILL);  // the whole group: sh and what it started
  });
  child->Watch();
  return pid;
}

}  // namespace ose
