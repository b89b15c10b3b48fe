#include "mesh/xds/compression.h"

#include <zstd.h>

#include <algorithm>
#include <memory>

#include "mesh/common/strings.h"

namespace mesh::xds {
namespace {

// Our frames use windows of at most 2 MB (level 3); 16 MB leaves room for other
// encoders while bounding what a hostile frame header can make the reader allocate.
constexpr int kMaxWindowLog = 24;

struct CCtxDeleter {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct DCtxDeleter {
  void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};

// One context per thread: creating one costs more than compressing a small message.
ZSTD_CCtx* ThreadCompressor() {
  thread_local std::unique_ptr<ZSTD_CCtx, CCtxDeleter> ctx(ZSTD_createCCtx());
  return ctx.get();
}

ZSTD_DCtx* ThreadDecompressor() {
  thread_local std::unique_ptr<ZSTD_DCtx, DCtxDeleter> ctx([] {
    ZSTD_DCtx* d = ZSTD_createDCtx();
    ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, kMaxWindowLog);
    return d;
  }());
  return ctx.get();
}

absl::Status Corrupt(size_t code) {
  return absl::InvalidArgumentError(
      common::StrCat("compressed discovery response is not valid zstd: ", ZSTD_getErrorName(code)));
}

absl::Status TooLarge(size_t max_bytes) {
  return absl::ResourceExhaustedError(common::StrCat(
      "compressed discovery response decompresses to more than the limit of ", max_bytes, " bytes: refused"));
}

}  // namespace

bool AcceptsZstd(std::string_view header_value) {
  for (const std::string& item : common::Split(header_value, ',')) {
    std::string_view token = item;
    if (size_t semi = token.find(';'); semi != std::string_view::npos) {
      token = token.substr(0, semi);
    }
    if (common::ToLower(common::StripWhitespace(token)) == kZstdEncoding) {
      return true;
    }
  }
  return false;
}

std::string ZstdCompress(std::string_view text, int level) {
  std::string out(ZSTD_compressBound(text.size()), '\0');
  size_t n = ZSTD_compressCCtx(ThreadCompressor(), out.data(), out.size(), text.data(), text.size(), level);
  // Compressing into a buffer of compressBound() size only fails on allocation failure.
  if (ZSTD_isError(n)) {
    std::abort();
  }
  out.resize(n);
  out.shrink_to_fit();
  return out;
}

absl::Status ZstdDecompressInto(std::string_view compressed, size_t max_bytes, std::string& out) {
  out.clear();
  if (compressed.empty()) {
    return absl::InvalidArgumentError("compressed discovery response is empty");
  }
  // The sizes the frames declare: an oversized message is refused before any work, and
  // the output is sized once. (The decoder checks each frame against its declaration.)
  size_t declared = 0;
  bool all_declared = true;
  for (std::string_view rest = compressed; !rest.empty();) {
    size_t frame = ZSTD_findFrameCompressedSize(rest.data(), rest.size());
    if (ZSTD_isError(frame)) {
      return Corrupt(frame);
    }
    unsigned long long size = ZSTD_getFrameContentSize(rest.data(), frame);
    if (size == ZSTD_CONTENTSIZE_ERROR) {
      return absl::InvalidArgumentError("compressed discovery response has a bad zstd frame header");
    }
    if (size == ZSTD_CONTENTSIZE_UNKNOWN) {
      all_declared = false;
    } else if (size > max_bytes || declared + size > max_bytes) {
      return TooLarge(max_bytes);
    } else {
      declared += static_cast<size_t>(size);
    }
    rest.remove_prefix(frame);
  }
  ZSTD_DCtx* dctx = ThreadDecompressor();
  ZSTD_DCtx_reset(dctx, ZSTD_reset_session_only);
  // One byte of room past the limit: output that reaches it is over the limit, and a
  // message of exactly the declared size never sees a full buffer before its end.
  const size_t ceiling = max_bytes + 1;
  size_t capacity = all_declared ? declared + 1 : std::min(ceiling, std::max<size_t>(compressed.size() * 8, 64 << 10));
  out.resize(capacity);
  ZSTD_inBuffer in{compressed.data(), compressed.size(), 0};
  ZSTD_outBuffer sink{out.data(), out.size(), 0};
  while (true) {
    size_t ret = ZSTD_decompressStream(dctx, &sink, &in);
    if (ZSTD_isError(ret)) {
      out.clear();
      return Corrupt(ret);
    }
    if (sink.pos > max_bytes) {
      out.clear();
      return TooLarge(max_bytes);
    }
    if (ret == 0 && in.pos == in.size) {
      break;  // every frame complete, all input used
    }
    if (sink.pos == sink.size) {
      // Output full and more to come: grow, never past the ceiling.
      size_t grown = std::min(ceiling, std::max<size_t>(out.size() * 2, 64 << 10));
      out.resize(grown);
      sink.dst = out.data();
      sink.size = out.size();
    } else if (in.pos == in.size) {
      out.clear();
      return absl::InvalidArgumentError("compressed discovery response is truncated");
    }
  }
  out.resize(sink.pos);
  return absl::OkStatus();
}

}  // namespace mesh::xds
