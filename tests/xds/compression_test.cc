// zstd framing of discovery responses: round trips, sharing of the compressed chunks,
// and the size limit that refuses decompression bombs.

#include "mesh/xds/compression.h"

#include <zstd.h>

#include "gtest/gtest.h"
#include "mesh/config/yaml_loader.h"
#include "mesh/xds/protocol.h"

namespace mesh::xds {
namespace {

std::string Decompress(std::string_view compressed, size_t max = 64 << 20) {
  std::string out;
  absl::Status st = ZstdDecompressInto(compressed, max, out);
  EXPECT_TRUE(st.ok()) << st;
  return out;
}

// A frame that does not declare its content size (streaming encoders write these).
std::string CompressWithoutSize(std::string_view text) {
  ZSTD_CCtx* c = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, 0);
  std::string out(ZSTD_compressBound(text.size()) + 64, '\0');
  ZSTD_inBuffer in{text.data(), text.size(), 0};
  ZSTD_outBuffer sink{out.data(), out.size(), 0};
  size_t left = ZSTD_compressStream2(c, &sink, &in, ZSTD_e_end);
  EXPECT_EQ(left, 0u);
  ZSTD_freeCCtx(c);
  out.resize(sink.pos);
  EXPECT_EQ(ZSTD_getFrameContentSize(out.data(), out.size()), ZSTD_CONTENTSIZE_UNKNOWN);
  return out;
}

TEST(Compression, ConcatenatedFramesDecompressToTheConcatenatedText) {
  std::string frames = ZstdCompress("{\"a\":") + ZstdCompress("[1,2,3]") + CompressWithoutSize("}");
  EXPECT_EQ(Decompress(frames), "{\"a\":[1,2,3]}");
  EXPECT_EQ(Decompress(ZstdCompress("")), "");
}

TEST(Compression, AcceptHeader) {
  EXPECT_TRUE(AcceptsZstd("zstd"));
  EXPECT_TRUE(AcceptsZstd("gzip, ZSTD;q=0.5"));
  EXPECT_FALSE(AcceptsZstd(""));
  EXPECT_FALSE(AcceptsZstd("gzip, zstdx"));
}

TEST(Compression, RefusesOutputOverTheLimit) {
  std::string big(8 << 20, '0');
  std::string bomb = ZstdCompress(big);
  ASSERT_LT(bomb.size(), 4096u);  // 8 MB of zeros in a few hundred bytes
  std::string out = "old";
  absl::Status st = ZstdDecompressInto(bomb, 1 << 20, out);
  EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted) << st;
  EXPECT_EQ(std::string(st.message()),
            "compressed discovery response decompresses to more than the limit of 1048576 bytes: refused");
  EXPECT_TRUE(out.empty());

  // Without a declared size the limit holds while decompressing.
  st = ZstdDecompressInto(CompressWithoutSize(big), 1 << 20, out);
  EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted) << st;
  EXPECT_TRUE(out.empty());
  // Several frames that fit one by one but not together.
  std::string half(600 << 10, 'x');
  st = ZstdDecompressInto(ZstdCompress(half) + ZstdCompress(half), 1 << 20, out);
  EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted) << st;
  st = ZstdDecompressInto(CompressWithoutSize(half) + CompressWithoutSize(half), 1 << 20, out);
  EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted) << st;

  // Exactly at the limit is fine, one byte more is not.
  std::string exact(1000, 'y');
  EXPECT_TRUE(ZstdDecompressInto(ZstdCompress(exact), 1000, out).ok());
  EXPECT_EQ(out, exact);
  EXPECT_TRUE(ZstdDecompressInto(CompressWithoutSize(exact), 1000, out).ok());
  EXPECT_EQ(out, exact);
  EXPECT_FALSE(ZstdDecompressInto(ZstdCompress(exact), 999, out).ok());
  EXPECT_FALSE(ZstdDecompressInto(CompressWithoutSize(exact), 999, out).ok());
}

TEST(Compression, RejectsGarbageAndTruncatedInput) {
  std::string out;
  EXPECT_EQ(ZstdDecompressInto("", 1024, out).code(), absl::StatusCode::kInvalidArgument);
  absl::Status st = ZstdDecompressInto("{\"not\": \"zstd\"}", 1024, out);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
  EXPECT_NE(std::string(st.message()).find("not valid zstd"), std::string::npos) << st;
  std::string frame = ZstdCompress(std::string(5000, 'a') + "tail");
  EXPECT_FALSE(ZstdDecompressInto(std::string_view(frame).substr(0, frame.size() - 3), 1 << 20, out).ok());
  std::string unsized = CompressWithoutSize(std::string(5000, 'a') + "tail");
  EXPECT_FALSE(ZstdDecompressInto(std::string_view(unsized).substr(0, unsized.size() - 3), 1 << 20, out).ok());
}

ResourceChunkPtr Chunk(const std::vector<std::string>& names) {
  std::vector<EncodedResourcePtr> items;
  for (const std::string& n : names) {
    items.push_back(EncodeResourceJson(n, "{\"@type\":\"t\",\"name\":\"" + n + "\"}"));
  }
  return MakeResourceChunk(std::move(items));
}

std::string Concat(const SerializedResponse& s) {
  std::string out;
  for (std::string_view p : s.pieces()) {
    out.append(p.data(), p.size());
  }
  return out;
}

TEST(Compression, CompressedResponseIsTheJsonResponseAndSharesChunkBytes) {
  ResourceChunkPtr shared = Chunk({"c1", "c2", "c3"});
  DiscoveryResponse a;
  a.type_url = type_url::kCluster;
  a.nonce = "1";
  a.resources = MakeChunkedResourceList({Chunk({"own-a"}), shared});
  a.version_info = a.resources->version();
  DiscoveryResponse b = a;
  b.nonce = "7";
  b.resources = MakeChunkedResourceList({Chunk({"own-b"}), shared});

  SerializedResponse za(a, ResponseEncoding::kZstd);
  SerializedResponse zb(b, ResponseEncoding::kZstd);
  EXPECT_TRUE(za.binary());
  EXPECT_FALSE(SerializedResponse(a).binary());
  EXPECT_EQ(Decompress(Concat(za)), SerializeResponse(a));
  EXPECT_EQ(Decompress(Concat(zb)), SerializeResponse(b));
  auto parsed = ParseResponse(Decompress(Concat(zb)));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->nonce, "7");
  ASSERT_EQ(parsed->resources->size(), 4u);
  EXPECT_EQ((*parsed->resources)[3]["name"].Str(), "c3");
  // The shared chunk is compressed once: both responses point at the same bytes.
  bool same_bytes = false;
  for (std::string_view pa : za.pieces()) {
    for (std::string_view pb : zb.pieces()) {
      same_bytes |= pa.data() == pb.data() && pa.data() == shared->compressed().data();
    }
  }
  EXPECT_TRUE(same_bytes);

  DiscoveryResponse empty;
  empty.type_url = type_url::kSecret;
  empty.nonce = "2";
  EXPECT_EQ(Decompress(Concat(SerializedResponse(empty, ResponseEncoding::kZstd))), SerializeResponse(empty));
}

}  // namespace
}  // namespace mesh::xds
