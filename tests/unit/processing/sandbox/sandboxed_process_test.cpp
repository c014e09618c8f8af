#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include "processing/sandbox/sandboxed_process.hpp"

namespace {

// Runs `script` with /bin/sh in the sandbox; returns what it printed.
std::string run_shell(const std::string& script, processing::SandboxLimits limits = {},
                      std::vector<std::string> environment = {}) {
  const std::filesystem::path out =
      std::filesystem::temp_directory_path() / ("sandbox-test-" + std::to_string(::getpid()));
  const int input = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  const int output = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  REQUIRE(input >= 0);
  REQUIRE(output >= 0);
  {
    processing::SandboxedProcess process(
        {"/bin/sh", {"-c", script}, std::move(environment), {input, output, output}, limits});
    process.reap();
    CHECK(WIFEXITED(process.status()));
  }
  ::close(input);
  ::close(output);
  std::ifstream file(out);
  std::stringstream text;
  text << file.rdbuf();
  std::filesystem::remove(out);
  return text.str();
}

}  // namespace

TEST_CASE("the limits hold in the program, set before it starts") {
  const std::string shown = run_shell("ulimit -v; ulimit -t; ulimit -n", {64u << 20, 7, 50});
  CHECK(shown == "65536\n7\n50\n");
}

TEST_CASE("the program gets exactly the descriptors given, in its own process group") {
  CHECK(run_shell("ls /proc/self/fd | wc -l") == "4\n");  // 0, 1, 2 and ls's own
  // /proc/PID/stat: pid (comm) state ppid pgrp …
  std::istringstream stat(run_shell("cat /proc/$$/stat"));
  std::string pid, comm, state, ppid, group;
  stat >> pid >> comm >> state >> ppid >> group;
  CHECK(group == pid);
  CHECK(ppid == std::to_string(::getpid()));
}

TEST_CASE("environment entries given replace the worker's of the same name") {
  ::setenv("SANDBOX_TEST_A", "old", 1);
  ::setenv("SANDBOX_TEST_B", "kept", 1);
  CHECK(run_shell("echo $SANDBOX_TEST_A $SANDBOX_TEST_B $SANDBOX_TEST_C", {},
                  {"SANDBOX_TEST_A=new", "SANDBOX_TEST_C=added"}) == "new kept added\n");
}

TEST_CASE("a program that cannot be started is an error naming it") {
  try {
    processing::SandboxedProcess process({"/no/such/program", {}, {}, {}, {}});
    FAIL("started");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()) == "cannot start /no/such/program: No such file or directory");
  }
}
