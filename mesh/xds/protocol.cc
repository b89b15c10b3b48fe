#include "mesh/xds/protocol.h"

#include <openssl/evp.h>

#include "mesh/common/strings.h"
#include "mesh/config/emit.h"
#include "mesh/config/yaml_loader.h"
#include "mesh/xds/compression.h"

namespace mesh::xds {
namespace {

using config::Node;

Node Str(const std::string& s) { return Node::Scalar(s, true); }

absl::Status Expect(bool ok, std::string_view what) {
  return ok ? absl::OkStatus() : absl::InvalidArgumentError(std::string(what));
}

}  // namespace

namespace type_url {

std::string ShortName(std::string_view t) {
  if (t == kListener) return "LDS";
  if (t == kRoute) return "RDS";
  if (t == kCluster) return "CDS";
  if (t == kEndpoint) return "EDS";
  if (t == kSecret) return "SDS";
  return std::string(t);
}

std::string TypeUrlForRestPath(std::string_view p) {
  if (p == "listeners") return kListener;
  if (p == "routes") return kRoute;
  if (p == "clusters") return kCluster;
  if (p == "endpoints") return kEndpoint;
  if (p == "secrets") return kSecret;
  return "";
}

const std::vector<std::string>& SubscriptionOrder() {
  static const std::vector<std::string> kOrder = {kCluster, kEndpoint, kListener, kRoute, kSecret};
  return kOrder;
}

}  // namespace type_url

namespace {

std::string HexDigest(const void* data, size_t size) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data, size, md, &len, EVP_sha256(), nullptr);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  out.reserve(16);
  for (unsigned int i = 0; i < 8 && i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

}  // namespace

EncodedResourcePtr EncodeResourceJson(std::string name, std::string json) {
  auto r = std::make_shared<EncodedResource>();
  r->name = std::move(name);
  r->digest = HexDigest(json.data(), json.size());
  r->json = std::move(json);
  return r;
}

EncodedResourcePtr EncodeResource(const Node& resource) {
  // Endpoint assignments are named by cluster_name.
  const std::string& name = resource["name"].IsScalar() ? resource["name"].Str() : resource["cluster_name"].Str();
  return EncodeResourceJson(name, config::EmitJson(resource, {.indent = 0}));
}

ResourceChunk::ResourceChunk(std::vector<EncodedResourcePtr> items) : items_(std::move(items)) {
  size_t total = 0;
  for (const auto& r : items_) {
    total += r->json.size() + 1;
  }
  joined_.reserve(total);
  std::string digests;
  digests.reserve(items_.size() * 17);
  for (const auto& r : items_) {
    if (!joined_.empty()) {
      joined_ += ',';
    }
    joined_ += r->json;
    digests += r->digest;
    digests += '\n';
  }
  digest_ = HexDigest(digests.data(), digests.size());
}

const std::string& ResourceChunk::compressed() const {
  std::call_once(compress_once_, [this] { compressed_ = ZstdCompress(joined_); });
  return compressed_;
}

ResourceChunkPtr MakeResourceChunk(std::vector<EncodedResourcePtr> items) {
  return std::make_shared<const ResourceChunk>(std::move(items));
}

ResourceSet::ResourceSet(std::vector<ResourceChunkPtr> chunks) {
  std::string digests;
  for (auto& c : chunks) {
    if (c->items().empty()) {
      continue;
    }
    size_ += c->items().size();
    digests += c->digest();
    digests += '\n';
    chunks_.push_back(std::move(c));
  }
  // The version depends only on the resources, not on how they are chunked.
  if (chunks_.size() == 1) {
    version_ = chunks_.front()->digest();
  } else {
    std::string all;
    for (const auto& c : chunks_) {
      for (const auto& r : c->items()) {
        all += r->digest;
        all += '\n';
      }
    }
    version_ = HexDigest(all.data(), all.size());
  }
}

std::vector<Node> ResourceSet::Decode() const {
  std::vector<Node> out;
  for (const auto& c : chunks_) {
    for (const auto& r : c->items()) {
      auto n = config::ParseYamlNode(r->json, r->name);
      out.push_back(n.ok() ? std::move(*n) : Node::Map());
    }
  }
  return out;
}

std::vector<std::string> ResourceSet::Names() const {
  std::vector<std::string> out;
  for (const auto& c : chunks_) {
    for (const auto& r : c->items()) {
      out.push_back(r->name);
    }
  }
  return out;
}

ResourceList MakeChunkedResourceList(std::vector<ResourceChunkPtr> chunks) {
  return std::make_shared<const ResourceSet>(std::move(chunks));
}

ResourceList MakeResourceList(std::vector<Node> resources) {
  std::vector<EncodedResourcePtr> items;
  items.reserve(resources.size());
  for (const Node& n : resources) {
    items.push_back(EncodeResource(n));
  }
  return MakeChunkedResourceList({MakeResourceChunk(std::move(items))});
}

Node EncodeRequest(const DiscoveryRequest& r) {
  Node n = Node::Map();
  if (!r.version_info.empty()) {
    n.Set("versionInfo", Str(r.version_info));
  }
  Node node = Node::Map();
  node.Set("id", Str(r.node.id));
  if (r.node.metadata.IsMap()) {
    node.Set("metadata", r.node.metadata);
  }
  n.Set("node", node);
  if (!r.resource_names.empty()) {
    Node names = Node::Sequence();
    for (const std::string& s : r.resource_names) {
      names.Append(Str(s));
    }
    n.Set("resourceNames", names);
  }
  n.Set("typeUrl", Str(r.type_url));
  if (!r.response_nonce.empty()) {
    n.Set("responseNonce", Str(r.response_nonce));
  }
  if (r.IsNack()) {
    Node e = Node::Map();
    e.Set("code", Node::Scalar(std::to_string(r.error_detail.code ? r.error_detail.code : 3)));
    e.Set("message", Str(r.error_detail.message));
    n.Set("errorDetail", e);
  }
  return n;
}

absl::StatusOr<DiscoveryRequest> DecodeRequest(const Node& n) {
  if (!n.IsMap()) {
    return absl::InvalidArgumentError("DiscoveryRequest must be a JSON object");
  }
  DiscoveryRequest r;
  r.version_info = n["versionInfo"].Str();
  r.type_url = n["typeUrl"].Str();
  r.response_nonce = n["responseNonce"].Str();
  const Node& node = n["node"];
  if (node.Defined() && !node.IsMap()) {
    return absl::InvalidArgumentError("DiscoveryRequest.node must be an object");
  }
  r.node.id = node["id"].Str();
  r.node.metadata = node["metadata"];
  const Node& names = n["resourceNames"];
  if (names.Defined() && !names.IsSequence()) {
    return absl::InvalidArgumentError("DiscoveryRequest.resourceNames must be a list");
  }
  r.resource_names = names.StringList();
  const Node& err = n["errorDetail"];
  if (err.IsMap()) {
    r.error_detail.code = static_cast<int>(err["code"].Int().value_or(3));
    r.error_detail.message = err["message"].Str();
    if (r.error_detail.code == 0 && r.error_detail.message.empty()) {
      r.error_detail.code = 3;
    }
  }
  if (auto st = Expect(!r.type_url.empty(), "DiscoveryRequest.typeUrl is required"); !st.ok()) {
    return st;
  }
  return r;
}

absl::StatusOr<ReceivedResponse> DecodeResponse(const Node& n) {
  if (!n.IsMap()) {
    return absl::InvalidArgumentError("DiscoveryResponse must be a JSON object");
  }
  ReceivedResponse r;
  r.version_info = n["versionInfo"].Str();
  r.type_url = n["typeUrl"].Str();
  r.nonce = n["nonce"].Str();
  const Node& res = n["resources"];
  if (res.Defined() && !res.IsSequence()) {
    return absl::InvalidArgumentError("DiscoveryResponse.resources must be a list");
  }
  std::vector<Node> items;
  for (const Node& item : res.items()) {
    if (!item.IsMap()) {
      return absl::InvalidArgumentError("each resource must be a JSON object");
    }
    items.push_back(item);
  }
  r.resources = std::make_shared<const std::vector<Node>>(std::move(items));
  if (r.type_url.empty() || r.nonce.empty()) {
    return absl::InvalidArgumentError("DiscoveryResponse needs typeUrl and nonce");
  }
  return r;
}

std::string SerializeRequest(const DiscoveryRequest& r) { return config::EmitJson(EncodeRequest(r), {.indent = 0}); }
SerializedResponse::SerializedResponse(const DiscoveryResponse& r, ResponseEncoding encoding)
    : encoding_(encoding), resources_(r.resources) {
  // Envelope first, so that a reader can see the type and nonce before the resources.
  head_ = common::StrCat("{\"versionInfo\":", config::JsonQuote(r.version_info), ",\"typeUrl\":",
                         config::JsonQuote(r.type_url), ",\"nonce\":", config::JsonQuote(r.nonce), ",\"resources\":[");
  const bool zstd = encoding == ResponseEncoding::kZstd;
  // The separators' frames are the same for every response.
  static const std::string kCommaFrame = ZstdCompress(",");
  static const std::string kTailFrame = ZstdCompress("]}");
  if (zstd) {
    head_ = ZstdCompress(head_);
  }
  pieces_.push_back(head_);
  bool first = true;
  for (const auto& c : resources_->chunks()) {
    if (!first) {
      pieces_.push_back(zstd ? std::string_view(kCommaFrame) : std::string_view(","));
    }
    first = false;
    pieces_.push_back(zstd ? c->compressed() : c->joined());
  }
  pieces_.push_back(zstd ? std::string_view(kTailFrame) : std::string_view("]}"));
}

size_t SerializedResponse::size() const {
  size_t n = 0;
  for (std::string_view p : pieces_) {
    n += p.size();
  }
  return n;
}

std::string SerializeResponse(const DiscoveryResponse& r) {
  SerializedResponse s(r);
  std::string out;
  out.reserve(s.size());
  for (std::string_view p : s.pieces()) {
    out.append(p.data(), p.size());
  }
  return out;
}

absl::StatusOr<DiscoveryRequest> ParseRequest(std::string_view json) {
  auto n = config::ParseYamlNode(json, "DiscoveryRequest");
  if (!n.ok()) {
    return n.status();
  }
  return DecodeRequest(*n);
}

absl::StatusOr<ReceivedResponse> ParseResponse(std::string_view json) {
  auto n = config::ParseYamlNode(json, "DiscoveryResponse");
  if (!n.ok()) {
    return n.status();
  }
  return DecodeResponse(*n);
}

std::string ContentVersion(const std::vector<Node>& resources) { return MakeResourceList(resources)->version(); }
std::string ContentVersion(const ResourceSet& resources) { return resources.version(); }

}  // namespace mesh::xds
