#include "data/sample.h"

namespace cokv {

double score_prediction(const Sample& s, const std::string& prediction) {
  return longbench::score_record(s.scoring, prediction, s.answers, s.all_classes.empty() ? nullptr : &s.all_classes);
}

}  // namespace cokv
