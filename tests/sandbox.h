// Helpers for tests that run things in a child process: a binary with arguments (output to
// files, a deadline), a function under a file-size limit (RLIMIT_FSIZE: writes past it fail
// with EFBIG, deterministically and without privileges), a function inside a small tmpfs of
// its own (ENOSPC; needs root or unprivileged user namespaces), and skipping a test.
#pragma once
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace cokv_test {

// Marks the test skipped: under ctest (COKV_CTEST=1, set by CMakeLists.txt) exit code 77,
// which ctest reports as "Skipped" with this message; run by hand, a warning and a return.
#define COKV_SKIP(reason)                                                 \
  do {                                                                    \
    if (std::getenv("COKV_CTEST")) {                                      \
      std::fprintf(stderr, "SKIPPED: %s\n", std::string(reason).c_str()); \
      std::fflush(stderr);                                                \
      std::_Exit(77);                                                     \
    }                                                                     \
    WARN("skipped: " << (reason));                                        \
    return;                                                               \
  } while (0)

// A started child process running argv[0] with stdout and stderr in files.
struct Child {
  pid_t pid = -1;
  // Waits up to `limit`; kills it (SIGKILL) past that. Returns the wait status, or -1 on timeout.
  int wait(std::chrono::seconds limit = std::chrono::seconds(300)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    int st = 0;
    while (true) {
      const pid_t r = waitpid(pid, &st, WNOHANG);
      if (r == pid) return st;
      if (std::chrono::steady_clock::now() > deadline) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
        return -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
};

// In the calling process: every later write past `bytes` in any file fails with EFBIG.
// Call in a child (run_forked, spawn) only.
inline void limit_file_size(long bytes) {
  signal(SIGXFSZ, SIG_IGN);
  rlimit rl;
  getrlimit(RLIMIT_FSIZE, &rl);
  rl.rlim_cur = rlim_t(bytes);  // the soft limit only: it can be raised again
  setrlimit(RLIMIT_FSIZE, &rl);
}

// Starts `args` (args[0]: the binary) with stdout/stderr to out_path/err_path (empty: /dev/null);
// file_limit > 0 sets RLIMIT_FSIZE (and ignores SIGXFSZ, so writes fail with EFBIG) first.
inline Child spawn(std::vector<std::string> args, const std::string& out_path = {},
                   const std::string& err_path = {}, long file_limit = 0) {
  Child c;
  c.pid = fork();
  if (c.pid == 0) {
    std::vector<char*> argv;
    for (auto& s : args) argv.push_back(s.data());
    argv.push_back(nullptr);
    const int out = ::open(out_path.empty() ? "/dev/null" : out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = ::open(err_path.empty() ? "/dev/null" : err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(out, 1);
    dup2(err, 2);
    if (file_limit > 0) limit_file_size(file_limit);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return c;
}

// Runs fn() in a forked child and returns its exit code (fn's return value; 128 + signal if
// it died). Catch2 assertions do not cross the fork: fn reports through its return value.
inline int run_forked(const std::function<int()>& fn) {
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    int rc = 1;
    try {
      rc = fn();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "child: %s\n", e.what());
    }
    std::fflush(nullptr);
    std::_Exit(rc);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

// In a forked child: a new mount namespace with a tmpfs of `bytes` at `dir` (root: directly;
// otherwise through an unprivileged user namespace), then fn(). Returns fn's exit code, or
// 77 when no tmpfs could be mounted.
inline int run_in_small_fs(const std::filesystem::path& dir, size_t bytes, const std::function<int()>& fn) {
  std::filesystem::create_directories(dir);
  return run_forked([&]() -> int {
    const uid_t uid = geteuid();
    const gid_t gid = getegid();
    if (uid != 0) {
      if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) return 77;
      auto write_file = [](const char* path, const std::string& text) {
        const int fd = ::open(path, O_WRONLY);
        const bool ok = fd >= 0 && ::write(fd, text.data(), text.size()) == ssize_t(text.size());
        if (fd >= 0) ::close(fd);
        return ok;
      };
      write_file("/proc/self/setgroups", "deny");
      if (!write_file("/proc/self/uid_map", "0 " + std::to_string(uid) + " 1\n") ||
          !write_file("/proc/self/gid_map", "0 " + std::to_string(gid) + " 1\n"))
        return 77;
    } else if (unshare(CLONE_NEWNS) != 0) {
      return 77;
    }
    // Our mounts stay in this namespace (no propagation back to the host's).
    mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr);
    const std::string opts = "size=" + std::to_string(bytes);
    if (mount("tmpfs", dir.c_str(), "tmpfs", 0, opts.c_str()) != 0) return 77;
    return fn();
  });
}

// Fills the file system holding `dir` with `filler` until at most `free_bytes` remain.
inline void fill_fs(const std::filesystem::path& filler, size_t free_bytes) {
  std::filesystem::remove(filler);
  struct statvfs sv;
  if (statvfs(filler.parent_path().c_str(), &sv) != 0) return;
  const size_t avail = size_t(sv.f_bavail) * sv.f_frsize;
  if (avail <= free_bytes) return;
  std::FILE* f = std::fopen(filler.c_str(), "wb");
  if (!f) return;
  std::vector<char> block(4096, 'x');
  size_t left = avail - free_bytes;
  while (left >= block.size() && std::fwrite(block.data(), 1, block.size(), f) == block.size()) left -= block.size();
  std::fclose(f);
}

}  // namespace cokv_test
