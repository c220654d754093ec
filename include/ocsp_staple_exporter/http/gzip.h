#pragma once
// gzip (RFC 1952) of a response body, with zlib.

#include <optional>
#include <string>
#include <string_view>

namespace ose {

/// Compresses `in` at zlib `level` (1 fastest .. 9 smallest; default 1:
/// /metrics of 50,000 targets is ~70 MB of text, and level 1 still shrinks
/// it ~20x at several times the speed of level 6). nullopt when zlib fails.
std::optional<std::string> Gzip(std::string_view in, int level = 1);

}  // namespace ose
