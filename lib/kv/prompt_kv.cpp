#include "kv/prompt_kv.h"

namespace cokv {

size_t PromptKV::bytes() const {
  size_t b = logits.size() * sizeof(float);
  for (const auto& x : k) b += x.size() * sizeof(float);
  for (const auto& x : v) b += x.size() * sizeof(float);
  for (const auto& x : q_win) b += x.size() * sizeof(float);
  return b;
}

}  // namespace cokv
