#pragma once
// Test helper: the text of one gzip member (RFC 1952), read back with zlib.

#include <gtest/gtest.h>
#include <zlib.h>

#include <string>
#include <string_view>

namespace ose::testing {

/// Inflates `in`, which must be exactly one whole gzip member: a truncated
/// member, trailing bytes or a zlib error fail the calling test (what was
/// inflated is returned all the same).
inline std::string Gunzip(std::string_view in) {
  z_stream z{};
  EXPECT_EQ(inflateInit2(&z, 15 + 16), Z_OK);
  std::string out(1 << 20, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  int rc = Z_OK;
  while (rc == Z_OK) {
    if (z.total_out == out.size()) out.resize(out.size() * 2);
    z.next_out = reinterpret_cast<Bytef*>(out.data() + z.total_out);
    z.avail_out = static_cast<uInt>(out.size() - z.total_out);
    rc = inflate(&z, Z_NO_FLUSH);
  }
  EXPECT_EQ(rc, Z_STREAM_END) << "not one whole gzip member";
  EXPECT_EQ(z.avail_in, 0u) << "bytes after the member";
  out.resize(z.total_out);
  inflateEnd(&z);
  return out;
}

}  // namespace ose::testing
