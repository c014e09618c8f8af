// Command-line interface: `run`, `migrate`, `extract-file`, `--version`.
// Parses flags (each with an environment twin) into a RunConfig and reports
// bad input with a clear message and exit code 2.
#pragma once

namespace app {

// The whole program; returns the process exit code.
int main_entry(int argc, char** argv);

}  // namespace app
