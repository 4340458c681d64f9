// The cooperative game the Shapley-style estimators query: n players (for CoKV, the model's KV heads,
// numbered layer-major: player = il * n_kv_heads + kv_head) and a utility U(S) for each coalition S.
// The runtime implements it (U = mean validation metric with heads outside S cut to the local
// window); tests and benchmarks implement synthetic games with known values.
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

namespace cokv::profile {

// A coalition over n players: c[i] = 1 when player i is in it (for CoKV: head i keeps its whole
// prompt cache), 0 otherwise. Always of size n.
using Coalition = std::vector<uint8_t>;

class Game {
 public:
  virtual ~Game() = default;

  virtual int n_players() const = 0;

  // Writes U(batch[k]) into utilities[k] for every k (the spans have the same length). Batched
  // because a model-backed game runs many coalitions through the network at once. Must be
  // deterministic: the same coalition gives the same utility, whatever else is in the batch.
  // The estimators call it from one thread at a time; it may use threads inside.
  virtual void evaluate(std::span<const Coalition> batch, std::span<double> utilities) = 0;

  // Several batches, possibly at once (a model game with one replica per device): writes
  // utilities[i][k] = U(batches[i][k]) and calls done(i) once batch i and all before it are
  // written, in batch order and never two at a time (a journal appends them so). Batches are
  // whole: their composition is the caller's, whatever the parallelism. Default: in turn.
  virtual void evaluate_batches(std::span<const std::span<const Coalition>> batches,
                                std::span<const std::span<double>> utilities, const std::function<void(size_t)>& done) {
    for (size_t i = 0; i < batches.size(); ++i) {
      evaluate(batches[i], utilities[i]);
      done(i);
    }
  }
  // Batches evaluate_batches can work on at once.
  virtual int parallelism() const { return 1; }
};

}  // namespace cokv::profile
