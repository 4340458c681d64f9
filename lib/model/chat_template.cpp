// Chat templates without Jinja: the style is recognised from tokenizer.chat_template and each
// style renders as its reference template would (see tokenizer.h for the exact strings).
#include <string_view>

#include "core/error.h"
#include "model/tokenizer.h"

namespace cokv {

namespace {

// ChatML templates that add a system turn when none is given carry it as a string literal:
//   '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, ...<|im_end|>\n'
// with the newline either literal or written "\n" inside the Jinja string. A system turn built
// from message['content'] is an expression, not a literal, and yields nothing.
std::string extract_default_system(const std::string& t) {
  const std::string key = "<|im_start|>system";
  for (size_t pos = t.find(key); pos != std::string::npos; pos = t.find(key, pos + 1)) {
    size_t p = pos + key.size();
    if (p < t.size() && t[p] == '\n') p += 1;
    else if (t.compare(p, 2, "\\n") == 0) p += 2;
    else continue;
    const size_t end = t.find("<|im_end|>", p);
    if (end == std::string::npos) break;
    const std::string_view body(t.data() + p, end - p);
    std::string out;
    bool literal = true;
    for (size_t i = 0; i < body.size() && literal; ++i) {
      const char c = body[i];
      if (c == '\\' && i + 1 < body.size()) {  // Jinja string escapes
        const char e = body[++i];
        out += e == 'n' ? '\n' : e == 't' ? '\t' : e;
      } else if (c == '\'' || c == '"' || c == '{' || c == '}') {
        literal = false;  // the string ends here: an expression follows
      } else {
        out += c;
      }
    }
    if (literal) return out;
  }
  return {};
}

std::string trim(const std::string& s) {
  const char* ws = " \t\n\r\v\f";
  const size_t b = s.find_first_not_of(ws);
  if (b == std::string::npos) return {};
  const size_t e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

}  // namespace

ChatTemplate chat_template_from_string(const std::string& jinja) {
  ChatTemplate t;
  if (jinja.find("<|im_start|>") != std::string::npos) {
    t.style = ChatStyle::ChatML;
    t.default_system = extract_default_system(jinja);
  } else if (jinja.find("<|start_header_id|>") != std::string::npos) {
    t.style = ChatStyle::Llama3;
  }
  return t;
}

ChatTemplate chat_template_from_gguf(const GgufFile& f) {
  const auto s = f.find_string("tokenizer.chat_template");
  return s ? chat_template_from_string(*s) : ChatTemplate{};
}

std::string ChatTemplate::apply(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const {
  std::string out;
  switch (style) {
    case ChatStyle::ChatML:
      // {% if loop.first and messages[0]['role'] != 'system' %} ... default system ...
      if (!default_system.empty() && !messages.empty() && messages[0].role != "system")
        out += "<|im_start|>system\n" + default_system + "<|im_end|>\n";
      for (const auto& m : messages) out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
      if (add_generation_prompt) out += "<|im_start|>assistant\n";
      break;
    case ChatStyle::Llama3:
      for (const auto& m : messages)
        out += "<|start_header_id|>" + m.role + "<|end_header_id|>\n\n" + trim(m.content) + "<|eot_id|>";
      if (add_generation_prompt) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
      break;
    case ChatStyle::None:
      for (size_t i = 0; i < messages.size(); ++i) {
        if (i) out += "\n\n";
        out += messages[i].content;
      }
      break;
  }
  return out;
}

}  // namespace cokv
