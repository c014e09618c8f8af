#include "bullmq/keys.hpp"

#include <doctest/doctest.h>

using bullmq::QueueKeys;

TEST_CASE("queue keys follow BullMQ's layout") {
  QueueKeys k("bull", "emails");
  CHECK(k.base() == "bull:emails:");
  CHECK(k.queue_key() == "bull:emails");
  CHECK(k.wait() == "bull:emails:wait");
  CHECK(k.active() == "bull:emails:active");
  CHECK(k.prioritized() == "bull:emails:prioritized");
  CHECK(k.priority_counter() == "bull:emails:pc");
  CHECK(k.marker() == "bull:emails:marker");
  CHECK(k.meta() == "bull:emails:meta");
  CHECK(k.events() == "bull:emails:events");
  CHECK(k.stalled_check() == "bull:emails:stalled-check");
  CHECK(k.waiting_children() == "bull:emails:waiting-children");
  CHECK(k.metrics("completed") == "bull:emails:metrics:completed");
  CHECK(k.job("42") == "bull:emails:42");
  CHECK(k.job_lock("42") == "bull:emails:42:lock");
  CHECK(k.job_logs("repeat:s:1700") == "bull:emails:repeat:s:1700:logs");
  CHECK(k.job_processed("p") == "bull:emails:p:processed");
  CHECK(k.job_failed("p") == "bull:emails:p:failed");
  CHECK(k.job_unsuccessful("p") == "bull:emails:p:unsuccessful");
  CHECK(k.job_dependencies("p") == "bull:emails:p:dependencies");
}

TEST_CASE("hash-tagged prefixes are kept verbatim (Redis Cluster)") {
  QueueKeys k("{bull}", "q");
  CHECK(k.wait() == "{bull}:q:wait");
}

TEST_CASE("worker client name is what Queue.getWorkers() looks for") {
  QueueKeys k("bull", "t1");
  CHECK(k.worker_client_name("") == "bull:dDE=");
  CHECK(k.worker_client_name("wname") == "bull:dDE=:w:wname");
}

TEST_CASE("base64 matches the standard alphabet with padding") {
  CHECK(bullmq::base64_encode("") == "");
  CHECK(bullmq::base64_encode("f") == "Zg==");
  CHECK(bullmq::base64_encode("fo") == "Zm8=");
  CHECK(bullmq::base64_encode("foo") == "Zm9v");
  CHECK(bullmq::base64_encode("foobar") == "Zm9vYmFy");
  CHECK(bullmq::base64_encode("\xff\xfe") == "//4=");
}
