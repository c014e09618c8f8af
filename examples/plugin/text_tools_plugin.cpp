// text-tools: an example bullmq-worker plugin, written against the installed
// SDK only (see CMakeLists.txt). It registers:
//   - word-count: {"text": "..."} -> {"words": W, "characters": C}; fails its
//     first attempts while data.failUntilAttempt is above the attempt number
//     (to show the custom backoff below);
//   - fan-out: {"texts": ["...", ...]} adds one word-count child per text,
//     waits for them, then returns {"total": sum of their words};
//   - the backoff type "text-tools-doubling": base × 2^(attempts - 1) ms,
//     base from the setting backoff_base_ms (default 100).
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <bullmq_worker/plugin.hpp>
#include <cctype>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

namespace {

using bullmq_worker::Job;
using bullmq_worker::JobContext;
using bullmq_worker::UnrecoverableError;

rapidjson::Document parse_object(const std::string& json, const char* what) {
  rapidjson::Document doc;
  doc.Parse(json.c_str(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    throw UnrecoverableError(std::string(what) + " must be a JSON object");
  }
  return doc;
}

std::string quote(const std::string& text) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.String(text.c_str(), static_cast<rapidjson::SizeType>(text.size()));
  return buffer.GetString();
}

std::int64_t count_words(const std::string& text) {
  std::int64_t words = 0;
  bool in_word = false;
  for (unsigned char c : text) {
    const bool space = std::isspace(c) != 0;
    if (!space && !in_word) ++words;
    in_word = !space;
  }
  return words;
}

class WordCount final : public bullmq_worker::Processor {
 public:
  std::string process(const Job& job, JobContext& context) override {
    auto data = parse_object(job.data, "word-count data");
    auto text = data.FindMember("text");
    if (text == data.MemberEnd() || !text->value.IsString()) {
      throw UnrecoverableError("word-count needs a string field 'text'");
    }
    auto fail_until = data.FindMember("failUntilAttempt");
    if (fail_until != data.MemberEnd() && fail_until->value.IsInt() &&
        job.attempt() < fail_until->value.GetInt()) {
      throw std::runtime_error("not yet: attempt " + std::to_string(job.attempt()));
    }
    const std::string body(text->value.GetString(), text->value.GetStringLength());
    const std::int64_t words = count_words(body);
    context.log("counted " + std::to_string(words) + " words");
    context.update_progress("100");
    return "{\"words\":" + std::to_string(words) +
           ",\"characters\":" + std::to_string(body.size()) + "}";
  }
};

class FanOut final : public bullmq_worker::Processor {
 public:
  std::string process(const Job& job, JobContext& context) override {
    auto data = parse_object(job.data, "fan-out data");
    auto step = data.FindMember("step");
    if (step == data.MemberEnd()) {
      auto texts = data.FindMember("texts");
      if (texts == data.MemberEnd() || !texts->value.IsArray()) {
        throw UnrecoverableError("fan-out needs an array field 'texts'");
      }
      for (const auto& text : texts->value.GetArray()) {
        if (!text.IsString()) throw UnrecoverableError("each of 'texts' must be a string");
        bullmq_worker::NewJob child;
        child.name = "word-count";
        child.data = "{\"text\":" + quote(text.GetString()) + "}";
        child.as_child = true;
        context.add_job(child);
      }
      // Remember the step in the job's data, so that the next run sums.
      data.AddMember("step", "waiting", data.GetAllocator());
      rapidjson::StringBuffer buffer;
      rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
      data.Accept(writer);
      context.update_data(buffer.GetString());
      context.move_to_waiting_children();  // throws once parked
    }
    std::int64_t total = 0;
    for (const auto& [child, value] : context.children_values()) {
      auto result = parse_object(value, "a word-count result");
      if (auto words = result.FindMember("words"); words != result.MemberEnd())
        total += words->value.GetInt64();
    }
    return "{\"total\":" + std::to_string(total) + "}";
  }
};

void setup(bullmq_worker::PluginSetup& setup) {
  const std::int64_t base = std::stoll(setup.config().get_or("backoff_base_ms", "100"));
  if (base <= 0) throw std::invalid_argument("backoff_base_ms must be positive");
  setup.add_processor("word-count", std::make_shared<WordCount>());
  setup.add_processor("fan-out", std::make_shared<FanOut>());
  setup.add_backoff_strategy(
      "text-tools-doubling",
      [base](int attempts_made, std::string_view, std::string_view, const Job&) -> std::int64_t {
        return base << (attempts_made > 0 ? attempts_made - 1 : 0);
      });
  setup.logger().info(
      "text_tools.ready",
      "text-tools registered word-count and fan-out, backoff base " + std::to_string(base) + " ms");
}

}  // namespace

BULLMQ_WORKER_PLUGIN("text-tools", "1.0.0", setup)
