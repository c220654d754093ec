#pragma once
// gzip (RFC 1952) of a response body, with zlib.

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ose {

/// Compresses `in` at zlib `level` (1 fastest .. 9 smallest; default 1:
/// /metrics of 50,000 targets is ~70 MB of text, and level 1 still shrinks
/// it ~20x at several times the speed of level 6). nullopt when zlib fails.
std::optional<std::string> Gzip(std::string_view in, int level = 1);

/// One gzip member (RFC 1952) built from numbered pieces compressed
/// independently, as pigz does: each piece is raw deflate (RFC 1951) that
/// ends with a sync flush (byte-aligned, no final block), so the pieces
/// joined in index order form one deflate stream; their CRC-32s combine.
/// A producer that writes several sections at once (the /metrics families,
/// filled target by target) compresses each as it goes, and the whole text
/// never exists. Not thread-safe. Each open piece holds a zlib stream
/// (~260 KiB at the default memory level) until Join.
class GzipPieces {
 public:
  explicit GzipPieces(int level = 1);
  ~GzipPieces();
  GzipPieces(const GzipPieces&) = delete;
  GzipPieces& operator=(const GzipPieces&) = delete;

  /// Compresses `data` onto the end of piece `piece` (any index; pieces
  /// never appended to are empty). A zlib failure is reported by Join.
  void Append(size_t piece, std::string_view data);

  /// Moves piece `from_piece` of `from` to index `piece` here (replacing
  /// what that index held); nothing moves when it is empty. `from` may
  /// have been filled on another thread, once that thread is done with it
  /// (the caller orders the two, e.g. by joining the thread): so several
  /// threads compress parts of one member. A zlib failure in `from` is
  /// reported by this object's Join.
  void Adopt(size_t piece, GzipPieces& from, size_t from_piece);

  /// Whether piece `piece` holds any input.
  bool Has(size_t piece) const;

  /// The member: header, every piece in index order, an empty final
  /// block, CRC-32 and length of all the input. nullopt when zlib failed.
  /// Ends this object's use.
  std::optional<std::string> Join();

 private:
  struct Piece;
  int level_;
  bool failed_ = false;
  std::vector<std::unique_ptr<Piece>> pieces_;
};

}  // namespace ose
