// bullmq-worker: a native consumer for BullMQ queues. See README.md.
#include "app/cli.hpp"

int main(int argc, char** argv) {
  return app::main_entry(argc, argv);
}
