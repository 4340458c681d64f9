#include "core/softmax.h"

#include <Eigen/Core>

namespace cokv {

void softmax_inplace(float* v, int n) {
  Eigen::Map<Eigen::ArrayXf> a(v, n);
  a = (a - a.maxCoeff()).exp();
  a *= 1.f / a.sum();
}

}  // namespace cokv
