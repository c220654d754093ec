#include "ocsp_staple_exporter/http/gzip.h"

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <memory>

namespace ose {

std::optional<std::string> Gzip(std::string_view in, int level) {
  z_stream z{};
  // windowBits 15 + 16: a gzip header and trailer instead of zlib's.
  if (deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return std::nullopt;
  }
  std::unique_ptr<z_stream, decltype(&deflateEnd)> guard(&z, deflateEnd);
  std::string out(deflateBound(&z, static_cast<uLong>(in.size())), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  if (deflate(&z, Z_FINISH) != Z_STREAM_END) return std::nullopt;
  out.resize(z.total_out);
  return out;
}

struct GzipPieces::Piece {
  z_stream z{};
  bool open = false;
  std::string out;
  uLong crc = crc32(0, Z_NULL, 0);
  uint64_t total = 0;
  ~Piece() {
    if (open) deflateEnd(&z);
  }
  // Runs deflate with `flush` until it has taken all input (and, for a
  // sync flush, written everything out). false on a zlib error.
  bool Run(int flush) {
    for (;;) {
      // Doubling from 32 KiB: a piece is often a few KiB compressed, and
      // a sliced scrape holds ~60 of them at once.
      if (out.size() - z.total_out < 16 * 1024) {
        out.resize(std::max<size_t>(2 * out.size(), 32 * 1024));
      }
      z.next_out = reinterpret_cast<Bytef*>(out.data() + z.total_out);
      z.avail_out = static_cast<uInt>(out.size() - z.total_out);
      const int rc = deflate(&z, flush);
      if (rc != Z_OK && rc != Z_BUF_ERROR) return false;
      if (z.avail_in == 0 && z.avail_out > 0) return true;
    }
  }
};

GzipPieces::GzipPieces(int level) : level_(level) {}
GzipPieces::~GzipPieces() = default;

void GzipPieces::Append(size_t piece, std::string_view data) {
  if (failed_ || data.empty()) return;
  if (pieces_.size() <= piece) pieces_.resize(piece + 1);
  auto& p = pieces_[piece];
  if (!p) {
    p = std::make_unique<Piece>();
    // windowBits -15: raw deflate, the header and trailer are Join's.
    if (deflateInit2(&p->z, level_, Z_DEFLATED, -12, 5, Z_DEFAULT_STRATEGY) != Z_OK) {
      failed_ = true;
      return;
    }
    p->open = true;
  }
  p->crc = crc32_z(p->crc, reinterpret_cast<const Bytef*>(data.data()), data.size());
  p->total += data.size();
  p->z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  p->z.avail_in = static_cast<uInt>(data.size());
  if (!p->Run(Z_NO_FLUSH)) failed_ = true;
}

void GzipPieces::Adopt(size_t piece, GzipPieces& from, size_t from_piece) {
  if (from.failed_) failed_ = true;
  if (!from.Has(from_piece)) return;
  if (pieces_.size() <= piece) pieces_.resize(piece + 1);
  // The z_stream stays where it is (zlib's state points into it): only
  // the owning pointer moves.
  pieces_[piece] = std::move(from.pieces_[from_piece]);
}

bool GzipPieces::Has(size_t piece) const {
  return piece < pieces_.size() && pieces_[piece] != nullptr;
}

std::optional<std::string> GzipPieces::Join() {
  if (failed_) return std::nullopt;
  // RFC 1952 header: magic, deflate, no flags, no mtime, no extra flags, OS unknown.
  std::string out("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff", 10);
  uLong crc = crc32(0, Z_NULL, 0);
  uint64_t total = 0;
  for (auto& p : pieces_) {
    if (!p) continue;
    if (!p->Run(Z_SYNC_FLUSH)) return std::nullopt;
    out.append(p->out.data(), p->z.total_out);
    crc = crc32_combine(crc, p->crc, static_cast<z_off_t>(p->total));
    total += p->total;
    p.reset();  // its zlib state and output, freed as we go
  }
  // An empty final block (fixed Huffman: BFINAL 1, BTYPE 01, end of block).
  out.append("\x03\x00", 2);
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((crc >> (8 * i)) & 0xff));
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((total >> (8 * i)) & 0xff));
  return out;
}

}  // namespace ose
