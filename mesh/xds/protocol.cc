#include "mesh/xds/protocol.h"

#include <openssl/evp.h>

#include "mesh/common/strings.h"
#include "mesh/config/emit.h"
#include "mesh/config/yaml_loader.h"

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

ResourceList MakeResourceList(std::vector<Node> resources) {
  return std::make_shared<const std::vector<Node>>(std::move(resources));
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

Node EncodeResponse(const DiscoveryResponse& r) {
  Node n = Node::Map();
  n.Set("versionInfo", Str(r.version_info));
  Node list = Node::Sequence();
  for (const Node& res : *r.resources) {
    list.Append(res);
  }
  n.Set("resources", list);
  n.Set("typeUrl", Str(r.type_url));
  n.Set("nonce", Str(r.nonce));
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

absl::StatusOr<DiscoveryResponse> DecodeResponse(const Node& n) {
  if (!n.IsMap()) {
    return absl::InvalidArgumentError("DiscoveryResponse must be a JSON object");
  }
  DiscoveryResponse r;
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
  r.resources = MakeResourceList(std::move(items));
  if (r.type_url.empty() || r.nonce.empty()) {
    return absl::InvalidArgumentError("DiscoveryResponse needs typeUrl and nonce");
  }
  return r;
}

std::string SerializeRequest(const DiscoveryRequest& r) { return config::EmitJson(EncodeRequest(r), {.indent = 0}); }
std::string SerializeResponse(const DiscoveryResponse& r) {
  return config::EmitJson(EncodeResponse(r), {.indent = 0});
}

absl::StatusOr<DiscoveryRequest> ParseRequest(std::string_view json) {
  auto n = config::ParseYamlNode(json, "DiscoveryRequest");
  if (!n.ok()) {
    return n.status();
  }
  return DecodeRequest(*n);
}

absl::StatusOr<DiscoveryResponse> ParseResponse(std::string_view json) {
  auto n = config::ParseYamlNode(json, "DiscoveryResponse");
  if (!n.ok()) {
    return n.status();
  }
  return DecodeResponse(*n);
}

std::string ContentVersion(const std::vector<Node>& resources) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  for (const Node& r : resources) {
    std::string s = config::EmitJson(r, {.indent = 0});
    EVP_DigestUpdate(ctx, s.data(), s.size());
    EVP_DigestUpdate(ctx, "\n", 1);
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, md, &len);
  EVP_MD_CTX_free(ctx);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < 8 && i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

}  // namespace mesh::xds
