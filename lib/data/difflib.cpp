// difflib.SequenceMatcher port: find_longest_match / get_matching_blocks as CPython 3 has them
// (isjunk=None, autojunk=True), reduced to counting matched elements.
#include "data/difflib.h"

#include <cmath>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "data/py_unicode.h"

namespace cokv::difflib {
namespace {

struct Matcher {
  std::u32string_view a, b;
  std::unordered_map<char32_t, std::vector<int>> b2j;  // element -> ascending indices in b
  // j2len rows, indexed j+1 so that "j-1" of the row before is a plain index; only touched
  // entries are non-zero and they are reset after each row, as difflib's fresh dict per row.
  std::vector<int> prev, cur;
  std::vector<int> touched_prev, touched_cur;

  Matcher(std::u32string_view a_, std::u32string_view b_) : a(a_), b(b_) {
    const int n = static_cast<int>(b.size());
    for (int j = 0; j < n; ++j) b2j[b[j]].push_back(j);
    if (n >= 200) {  // autojunk: drop popular elements from the index
      const size_t ntest = static_cast<size_t>(n / 100 + 1);
      for (auto it = b2j.begin(); it != b2j.end();) {
        if (it->second.size() > ntest) it = b2j.erase(it);
        else ++it;
      }
    }
    prev.assign(n + 1, 0);
    cur.assign(n + 1, 0);
  }

  struct Match {
    int i, j, k;
  };

  Match find_longest_match(int alo, int ahi, int blo, int bhi) {
    int besti = alo, bestj = blo, bestsize = 0;
    for (int i = alo; i < ahi; ++i) {
      auto found = b2j.find(a[i]);
      if (found != b2j.end()) {
        for (int j : found->second) {
          if (j < blo) continue;
          if (j >= bhi) break;
          const int k = prev[j] + 1;  // j2len.get(j-1, 0) + 1
          cur[j + 1] = k;
          touched_cur.push_back(j + 1);
          if (k > bestsize) {
            besti = i - k + 1;
            bestj = j - k + 1;
            bestsize = k;
          }
        }
      }
      for (int t : touched_prev) prev[t] = 0;
      touched_prev.clear();
      std::swap(prev, cur);
      std::swap(touched_prev, touched_cur);
    }
    for (int t : touched_prev) prev[t] = 0;
    touched_prev.clear();
    // No junk, so only the non-junk extension loops can fire (popular elements included).
    while (besti > alo && bestj > blo && a[besti - 1] == b[bestj - 1]) {
      --besti;
      --bestj;
      ++bestsize;
    }
    while (besti + bestsize < ahi && bestj + bestsize < bhi && a[besti + bestsize] == b[bestj + bestsize])
      ++bestsize;
    return {besti, bestj, bestsize};
  }

  size_t matched() {
    struct Span {
      int alo, ahi, blo, bhi;
    };
    std::vector<Span> queue{{0, static_cast<int>(a.size()), 0, static_cast<int>(b.size())}};
    size_t total = 0;
    while (!queue.empty()) {
      const Span s = queue.back();
      queue.pop_back();
      const Match m = find_longest_match(s.alo, s.ahi, s.blo, s.bhi);
      if (m.k == 0) continue;
      total += static_cast<size_t>(m.k);
      if (s.alo < m.i && s.blo < m.j) queue.push_back({s.alo, m.i, s.blo, m.j});
      if (m.i + m.k < s.ahi && m.j + m.k < s.bhi) queue.push_back({m.i + m.k, s.ahi, m.j + m.k, s.bhi});
    }
    return total;
  }
};

}  // namespace

size_t matching_characters(std::u32string_view a, std::u32string_view b) {
  if (a.empty() || b.empty()) return 0;
  Matcher m(a, b);
  return m.matched();
}

double ratio(std::u32string_view a, std::u32string_view b) {
  const size_t length = a.size() + b.size();
  if (length == 0) return 1.0;
  return 2.0 * static_cast<double>(matching_characters(a, b)) / static_cast<double>(length);
}

int fuzz_ratio(std::string_view s1, std::string_view s2) {
  if (s1 == s2) return 100;  // check_for_equivalence runs before check_empty_string
  if (s1.empty() || s2.empty()) return 0;
  const double r = ratio(py::decode_utf8(s1), py::decode_utf8(s2));
  // int(round(x)): Python rounds half to even, as nearbyint does in the default mode.
  return static_cast<int>(std::nearbyint(100.0 * r));
}

}  // namespace cokv::difflib
