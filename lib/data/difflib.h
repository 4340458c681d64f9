// A faithful port of Python's difflib.SequenceMatcher(None, a, b) (autojunk=True) for the one
// number LongBench needs: ratio(), plus fuzzywuzzy's fuzz.ratio on top of it (LongBench's
// code_sim metric runs fuzzywuzzy without python-Levenshtein, i.e. on difflib).
#pragma once
#include <string>
#include <string_view>

namespace cokv::difflib {

// Total size of SequenceMatcher(None, a, b).get_matching_blocks(); elements are code points.
// b's "popular" elements (more than len(b)/100 + 1 occurrences when len(b) >= 200) are not
// used to seed matches, exactly as difflib's autojunk heuristic does; matches may still be
// extended over them.
size_t matching_characters(std::u32string_view a, std::u32string_view b);

// SequenceMatcher(None, a, b).ratio(): 2*M/(len(a)+len(b)), 1.0 when both are empty.
double ratio(std::u32string_view a, std::u32string_view b);

// fuzzywuzzy fuzz.ratio(s1, s2): 100 if equal, 0 if either is empty, else
// int(round(100 * ratio)) with Python's round-half-even. Inputs are UTF-8.
int fuzz_ratio(std::string_view s1, std::string_view s2);

}  // namespace cokv::difflib
