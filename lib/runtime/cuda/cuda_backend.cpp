// The CUDA backend (runtime/cuda_backend.h): Backend on the forward passes of engine.h.
#include <chrono>

#include "core/error.h"
#include "runtime/cuda/engine.h"
#include "runtime/cuda_backend.h"
#include "runtime/model.h"

COKV_CUDA_BACKEND_BEGIN

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// What the kernels support, checked once at load with the model's own numbers.
void check_config(const ModelConfig& c) {
  const auto bad = [&](const std::string& what) {
    throw Error("cuda backend: model '" + c.name + "': " + what);
  };
  if (c.head_dim != 64 && c.head_dim != 128)
    bad("head_dim " + std::to_string(c.head_dim) + " is not supported by the attention kernels (64 or 128)");
  if (c.n_kv_heads <= 0 || c.n_heads % c.n_kv_heads != 0)
    bad("query heads " + std::to_string(c.n_heads) + " not a multiple of KV heads " + std::to_string(c.n_kv_heads));
  if (c.rope_dim <= 0 || c.rope_dim % 2 || c.rope_dim > c.head_dim)
    bad("rope_dim " + std::to_string(c.rope_dim) + ": expected even, > 0 and <= head_dim");
}

// A tokenizer for a model without a file: token i is the text "<i>" (benchmarks feed ids).
Tokenizer placeholder_tokenizer(int n_vocab) {
  TokenizerSpec spec;
  spec.source = "(random weights)";
  spec.tokens.reserve(n_vocab);
  for (int i = 0; i < n_vocab; ++i) {
    std::string t = "<";
    t += std::to_string(i);
    t += '>';
    spec.tokens.push_back(std::move(t));
  }
  return Tokenizer::from_spec(spec);
}

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(const BackendOptions& opt) : counters_(std::make_shared<BackendCounters>()) {
    if (opt.numerics != Model::Numerics::Fp32)
      fail("--numerics", "ggml", "fp32 with the CUDA backend (ggml's rounding is the CPU backend's)");
    if (opt.weights != WeightMode::Bf16 && opt.weights != WeightMode::Auto)
      fail("--weights", "weights mode",
           "bf16 or auto with the CUDA backend (it holds bf16, or fp16 where the file does; fp32, q8_0 and "
           "file: --backend cpu)",
           weight_mode_name(opt.weights));
    dc_ = std::make_unique<DeviceContext>(opt.device);
    DeviceScope scope(dc_->device);
    DeviceWeights w;
    if (opt.random_weights) {
      const ModelConfig& c = *opt.random_weights;
      check_config(c);
      info_ = std::make_unique<ModelInfo>(
          ModelInfo{"(random weights)", ModelFormat::Gguf, c, placeholder_tokenizer(c.n_vocab), {}, WeightMode::Bf16});
      w = random_weights(c, DType::BF16, *dc_);
    } else {
      // The host copy (bf16, fp16 where stored so: never fp32) lives only while it is uploaded.
      std::unique_ptr<Model> host = Model::load(opt.model_path, Model::Numerics::Fp32, WeightMode::Bf16);
      check_config(host->cfg);
      w = upload_weights(host->w, host->cfg, device_type(host->w), *dc_);
      info_ = std::make_unique<ModelInfo>(std::move(static_cast<ModelInfo&>(*host)));
    }
    info_->weights = WeightMode::Bf16;  // what the device holds (fp16 matrices count as compact too)
    counters_->weight_bytes = w.bytes;
    m_ = std::make_unique<DeviceModel>(DeviceModel{info_->cfg, Dims(info_->cfg), *dc_, std::move(w), counters_});
  }

  BackendKind kind() const override { return kernels::kEmulated ? BackendKind::CudaEmulated : BackendKind::Cuda; }
  const ModelInfo& model() const override { return *info_; }
  DeviceInfo device() const override { return dc_->info; }
  size_t kv_element_bytes() const override { return kernels::dtype_bytes(m_->w.type); }

  std::unique_ptr<PromptState> prefill(std::span<const int32_t> tokens, const PrefillOptions& opt) override {
    DeviceScope scope(dc_->device);
    const auto t0 = std::chrono::steady_clock::now();
    auto s = dispatch(m_->w.type, [&](auto t) { return cokv::COKV_CUDA_NS::prefill<typename decltype(t)::type>(*m_, tokens, opt); });
    counters_->prefills += 1;
    counters_->prefill_tokens += int64_t(tokens.size());
    counters_->prefill_s += seconds_since(t0);
    return s;
  }

  Rankings rank(const PromptState& p, const ScorerConfig& c) override {
    DeviceScope scope(dc_->device);
    const auto t0 = std::chrono::steady_clock::now();
    const CudaState& s = state_of(p);
    Rankings r = dispatch(m_->w.type, [&](auto t) { return cokv::COKV_CUDA_NS::rank<typename decltype(t)::type>(*m_, s, c); });
    counters_->rankings += 1;
    counters_->rank_s += seconds_since(t0);
    return r;
  }

  std::vector<GenResult> generate(const PromptState& p, std::span<const Policy> policies,
                                  const GenOptions& opt) override {
    DeviceScope scope(dc_->device);
    const auto t0 = std::chrono::steady_clock::now();
    const CudaState& s = state_of(p);
    auto r = dispatch(m_->w.type, [&](auto t) {
      return cokv::COKV_CUDA_NS::generate<typename decltype(t)::type>(*m_, s, policies, opt);
    });
    counters_->decode_calls += 1;
    for (const auto& g : r) counters_->decoded_rows += int64_t(g.tokens.size());
    counters_->decode_s += seconds_since(t0);
    return r;
  }

  std::vector<LoglikResult> loglik(const PromptState& p, std::span<const Policy> policies,
                                   std::span<const int32_t> answer, const DecodeOptions& opt) override {
    DeviceScope scope(dc_->device);
    const auto t0 = std::chrono::steady_clock::now();
    const CudaState& s = state_of(p);
    auto r = dispatch(m_->w.type, [&](auto t) {
      return cokv::COKV_CUDA_NS::loglik<typename decltype(t)::type>(*m_, s, policies, answer, opt);
    });
    counters_->decode_calls += 1;
    counters_->decoded_rows += int64_t(policies.size()) * int64_t(answer.size());
    counters_->decode_s += seconds_since(t0);
    return r;
  }

  const PromptKV& host_kv(const PromptState& p) override {
    const CudaState& s = state_of(p);
    if (!s.host) {
      DeviceScope scope(dc_->device);
      auto kv = std::make_unique<PromptKV>();
      dispatch(m_->w.type, [&](auto t) { cokv::COKV_CUDA_NS::copy_to_host<typename decltype(t)::type>(*m_, s, *kv); });
      s.host = std::move(kv);
      s.count(s.host->bytes());
    }
    return *s.host;
  }

  BackendCounters counters() const override {
    BackendCounters c = *counters_;
    c.peak_device_bytes = dc_->arena->peak();
    c.device_reserved_bytes = dc_->arena->reserved();
    return c;
  }

 private:
  const CudaState& state_of(const PromptState& p) const {
    const auto* s = dynamic_cast<const CudaState*>(&p);
    require(s != nullptr && s->owner == m_.get(),
            std::string(backend_name(kind())) + " backend: the prompt state was made by another backend");
    return *s;
  }

  std::unique_ptr<ModelInfo> info_;
  std::shared_ptr<BackendCounters> counters_;  // shared with the states, which may outlive the backend
  std::unique_ptr<DeviceContext> dc_;
  std::unique_ptr<DeviceModel> m_;
};

}  // namespace

std::unique_ptr<Backend> open(const BackendOptions& opt) { return std::make_unique<CudaBackend>(opt); }

COKV_CUDA_BACKEND_END
