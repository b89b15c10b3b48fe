// Every container that runs our image in a rendered manifest (istiod, the gateways) or in
// an injected pod (istio-init, istio-proxy) must start a command line the meshctl CLI
// accepts: each one is parsed by the real binary's parser (`meshctl x check-args`), so a
// renamed or removed flag fails here instead of crash-looping in a cluster.

#include <filesystem>
#include <regex>
#include <set>

#include "gtest/gtest.h"
#include "mesh/common/file_util.h"
#include "mesh/common/strings.h"
#include "mesh/config/yaml_loader.h"
#include "mesh/install/iop.h"
#include "mesh/install/render.h"
#include "tests/common/test_util.h"

namespace mesh::install {
namespace {

using config::Node;

std::string Binary() {
  std::string bin = testing::MeshctlBinary();
  if (bin.empty() || !std::filesystem::exists(bin)) {
    std::error_code ec;
    auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec) {
      bin = (self.parent_path().parent_path() / "bin" / "meshctl").string();
    }
  }
  return bin;
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  }
  return out + "'";
}

struct ContainerCommand {
  std::string where;  // "Deployment istio-system/istiod container discovery"
  std::vector<std::string> args;
};

// The pod spec of a workload object (Deployment & co, or a Pod).
const Node& PodSpec(const Node& object) {
  return object["kind"].Str() == "Pod" ? object["spec"] : object["spec"]["template"]["spec"];
}

// Our image's containers with their arguments as the kubelet passes them: `$(VAR)` is
// replaced by the container's env VAR (any value will do for parsing); a reference to
// an env var the container does not define would reach meshctl literally, so it fails.
void CollectCommands(const Node& object, std::vector<ContainerCommand>& out) {
  const Node& spec = PodSpec(object);
  for (const char* list : {"initContainers", "containers"}) {
    for (const Node& c : spec[list].items()) {
      if (c["image"].Str().find("/meshctl:") == std::string::npos) {
        continue;
      }
      ContainerCommand cmd;
      cmd.where = common::StrCat(object["kind"].Str(), " ", object["metadata"]["namespace"].Str(), "/",
                                 object["metadata"]["name"].Str(), " container ", c["name"].Str());
      std::set<std::string> env;
      for (const Node& e : c["env"].items()) {
        env.insert(e["name"].Str());
      }
      std::vector<std::string> raw;
      const auto& command = c["command"].items();
      // The image's ENTRYPOINT is meshctl; a command, if any, must be meshctl too.
      for (size_t i = 0; i < command.size(); ++i) {
        if (i == 0) {
          EXPECT_EQ(std::filesystem::path(command[0].Str()).filename(), "meshctl") << cmd.where;
          continue;
        }
        raw.push_back(command[i].Str());
      }
      for (const Node& a : c["args"].items()) {
        raw.push_back(a.Str());
      }
      static const std::regex kRef(R"(\$\(([A-Za-z_][A-Za-z0-9_]*)\))");
      for (const std::string& a : raw) {
        std::string expanded;
        auto begin = std::sregex_iterator(a.begin(), a.end(), kRef);
        size_t last = 0;
        for (auto it = begin; it != std::sregex_iterator(); ++it) {
          const std::string var = (*it)[1].str();
          EXPECT_TRUE(env.count(var)) << cmd.where << ": argument " << a << " uses $(" << var
                                      << ") but the container has no such env";
          expanded += a.substr(last, it->position() - last) + "value-of-" + var;
          last = it->position() + it->length();
        }
        cmd.args.push_back(expanded + a.substr(last));
      }
      out.push_back(std::move(cmd));
    }
  }
}

void ExpectAccepted(const std::string& bin, const ContainerCommand& cmd) {
  ASSERT_FALSE(cmd.args.empty()) << cmd.where << " has no arguments (the image's entrypoint alone prints usage)";
  std::string line = bin + " x check-args --";
  for (const std::string& a : cmd.args) {
    line += " " + ShellQuote(a);
  }
  testing::CommandResult r = testing::RunCommand(line);
  EXPECT_EQ(r.exit_code, 0) << cmd.where << " runs a command meshctl rejects:\n" << r.err << r.out;
}

std::vector<ContainerCommand> RenderedCommands(const std::vector<std::string>& sets) {
  MergeInputs in;
  in.set_flags = sets;
  auto c = MergeInstallConfig(in);
  EXPECT_TRUE(c.ok()) << c.status();
  if (!c.ok()) {
    return {};
  }
  auto m = RenderManifest(*c);
  EXPECT_TRUE(m.ok()) << m.status();
  std::vector<ContainerCommand> out;
  if (m.ok()) {
    for (const RenderedObject& o : m->objects) {
      if (o.kind == "Deployment" || o.kind == "DaemonSet" || o.kind == "StatefulSet") {
        CollectCommands(o.object, out);
      }
    }
  }
  return out;
}

class ContainerArgs : public ::testing::Test {
 protected:
  void SetUp() override {
    bin_ = Binary();
    if (bin_.empty() || !std::filesystem::exists(bin_)) {
      GTEST_SKIP() << "meshctl binary not found (set MESHCTL_BIN)";
    }
  }
  std::string bin_;
};

// The checker itself must refuse what the CLI refuses, or the tests below prove nothing.
TEST_F(ContainerArgs, CheckerRejectsIstioArgsAndUnknownFlags) {
  for (const std::string& bad : {std::string("discovery --monitoringAddr=:15014"),
                                 std::string("proxy router --domain istio-system.svc.cluster.local"),
                                 std::string("control-plane --kube --no-such-flag"),
                                 std::string("control-plane --tls-port=99999"), std::string("proxy sidecar")}) {
    testing::CommandResult r = testing::RunCommand(bin_ + " x check-args -- " + bad);
    EXPECT_NE(r.exit_code, 0) << bad;
    EXPECT_NE(r.err.find("Error: meshctl " + bad), std::string::npos) << r.err;
  }
  testing::CommandResult ok = testing::RunCommand(bin_ + " x check-args -- control-plane --kube --port=15010");
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(ok.out, "ok: meshctl control-plane --kube --port=15010\n");
}

TEST_F(ContainerArgs, DemoProfileDeploymentsRunAcceptedCommands) {
  std::vector<ContainerCommand> cmds = RenderedCommands({"profile=demo"});
  std::set<std::string> seen;
  for (const ContainerCommand& c : cmds) {
    seen.insert(c.where);
    ExpectAccepted(bin_, c);
  }
  EXPECT_EQ(seen, (std::set<std::string>{
                      "Deployment istio-system/istiod container discovery",
                      "Deployment istio-system/istio-ingressgateway container istio-proxy",
                      "Deployment istio-system/istio-egressgateway container istio-proxy",
                  }));
}

TEST_F(ContainerArgs, OtherProfilesAndRevisionsRunAcceptedCommands) {
  for (const std::vector<std::string>& sets :
       {std::vector<std::string>{}, std::vector<std::string>{"profile=minimal"},
        std::vector<std::string>{"profile=demo", "revision=canary", "values.pilot.keepaliveMaxServerConnectionAge=1h"},
        std::vector<std::string>{"profile=demo", "values.gateways.istio-ingressgateway.type=NodePort"}}) {
    std::vector<ContainerCommand> cmds = RenderedCommands(sets);
    EXPECT_FALSE(cmds.empty()) << common::Join(sets, " ");
    for (const ContainerCommand& c : cmds) {
      ExpectAccepted(bin_, c);
    }
  }
}

TEST_F(ContainerArgs, GatewayRunsRouterWithItsIdentityAndTlsDiscovery) {
  std::vector<ContainerCommand> cmds = RenderedCommands({"profile=demo"});
  const ContainerCommand* ingress = nullptr;
  for (const ContainerCommand& c : cmds) {
    if (c.where.find("istio-ingressgateway") != std::string::npos) {
      ingress = &c;
    }
  }
  ASSERT_NE(ingress, nullptr);
  std::string line = common::Join(ingress->args, " ");
  for (const char* want : {"proxy router ", "--namespace=value-of-POD_NAMESPACE",
                           "--service-account=value-of-SERVICE_ACCOUNT", "--labels=istio=ingressgateway",
                           "--port-map=80:8080", "--port-map=443:8443",
                           "--control-plane=istiod.istio-system.svc:15012",
                           "--token-file=/var/run/secrets/tokens/istio-token", "--health-port=15021"}) {
    EXPECT_NE(line.find(want), std::string::npos) << want << " missing in: " << line;
  }
}

// The injector's output (its goldens, checked against the injector by inject_test).
TEST_F(ContainerArgs, InjectedContainersRunAcceptedCommands) {
  int checked = 0;
  for (const char* golden : {"inject/deployment.injected.yaml", "inject/pod.injected.yaml",
                             "inject/multi.injected.yaml", "inject/probes.injected.yaml"}) {
    auto text = common::ReadFile(testing::SourceDir() + "/tests/testdata/" + golden);
    ASSERT_TRUE(text.ok()) << text.status();
    config::ParseResult parsed = config::ParseYamlDocuments(*text, golden);
    ASSERT_TRUE(parsed.errors.empty()) << golden;
    std::vector<ContainerCommand> cmds;
    for (const auto& doc : parsed.documents) {
      if (doc.root["kind"].Str() == "List") {
        for (const Node& item : doc.root["items"].items()) {
          CollectCommands(item, cmds);
        }
      } else if (doc.root["spec"].IsMap()) {
        CollectCommands(doc.root, cmds);
      }
    }
    for (const ContainerCommand& c : cmds) {
      ExpectAccepted(bin_, c);
      ++checked;
    }
  }
  EXPECT_GE(checked, 8);  // istio-init and istio-proxy of at least four workloads
}

}  // namespace
}  // namespace mesh::install
