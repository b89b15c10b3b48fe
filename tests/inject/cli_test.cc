// `meshctl kube-inject` end to end, the image the install renders, and the Dockerfile.

#include <filesystem>
#include <regex>

#include "gtest/gtest.h"
#include "mesh/common/file_util.h"
#include "mesh/common/strings.h"
#include "mesh/config/yaml_loader.h"
#include "mesh/inject/injector.h"
#include "tests/common/test_util.h"
#include "tests/inject/test_binary.h"

namespace mesh::inject {
namespace {

class KubeInjectCli : public ::testing::Test {
 protected:
  void SetUp() override {
    bin_ = MeshctlForTest();
    if (bin_.empty()) {
      GTEST_SKIP() << "meshctl binary not found (set MESHCTL_BIN)";
    }
    state_ = dir_.path() + "/state";
  }
  testing::CommandResult Run(const std::string& args, const std::string& stdin_data = "") {
    return testing::RunCommand(bin_ + " " + args + " --state-dir " + state_, stdin_data);
  }
  std::string Data(const std::string& name) { return testing::SourceDir() + "/tests/testdata/inject/" + name; }

  std::string bin_;
  testing::TempDir dir_;
  std::string state_;
};

std::vector<std::string> Images(const std::string& yaml) {
  std::vector<std::string> out;
  std::regex image("image: \"?([^\"\\s]+)\"?");
  for (std::sregex_iterator it(yaml.begin(), yaml.end(), image), end; it != end; ++it) {
    out.push_back((*it)[1]);
  }
  return out;
}

TEST_F(KubeInjectCli, FileAndStdinGiveTheGoldenOutput) {
  auto r = Run("kube-inject -f " + Data("deployment.yaml"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(testing::CompareGolden("inject/deployment.injected.yaml", r.out), "");
  auto text = common::ReadFile(Data("deployment.yaml"));
  ASSERT_TRUE(text.ok());
  auto piped = Run("kube-inject -f -", *text);
  ASSERT_EQ(piped.exit_code, 0) << piped.err;
  EXPECT_EQ(piped.out, r.out);
  // Two inputs: documents of both, separated.
  auto both = Run("kube-inject -f " + Data("deployment.yaml") + " -f " + Data("pod.yaml"));
  ASSERT_EQ(both.exit_code, 0) << both.err;
  EXPECT_EQ(config::ParseYamlDocuments(both.out, "out").documents.size(), 2u);
  // Notes for workloads left alone go to stderr, the YAML stays clean.
  auto multi = Run("kube-inject -f " + Data("multi.yaml") + " -o " + dir_.path() + "/out.yaml");
  ASSERT_EQ(multi.exit_code, 0) << multi.err;
  EXPECT_EQ(multi.out, "");
  EXPECT_EQ(multi.err,
            "DaemonSet node-agent: not injected (pod uses hostNetwork)\n"
            "Job once: not injected (pod label sidecar.istio.io/inject=false)\n");
  auto written = common::ReadFile(dir_.path() + "/out.yaml");
  ASSERT_TRUE(written.ok());
  EXPECT_EQ(testing::CompareGolden("inject/multi.injected.yaml", *written), "");
}

TEST_F(KubeInjectCli, Errors) {
  auto none = Run("kube-inject");
  EXPECT_EQ(none.exit_code, 64);
  EXPECT_EQ(none.err, "Error: filename not specified (see --filename or -f)\n");
  auto missing = Run("kube-inject -f " + dir_.path() + "/missing.yaml");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("missing.yaml"), std::string::npos) << missing.err;
  std::string bad = dir_.Write("bad.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n"
                                           "  template:\n    spec:\n      containers: {}\n");
  auto invalid = Run("kube-inject -f " + bad);
  EXPECT_EQ(invalid.exit_code, 65);
  EXPECT_EQ(invalid.err, "Error: " + bad + ":1: Deployment d: pod spec.containers must be a non-empty list\n");
}

TEST_F(KubeInjectCli, ImageFollowsTheInstalledHubAndTag) {
  auto install = Run("install --profile demo --set hub=registry.example/mesh --set tag=0.3.1 -y");
  ASSERT_EQ(install.exit_code, 0) << install.err;
  auto r = Run("kube-inject -f " + Data("deployment.yaml"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Images(r.out), (std::vector<std::string>{"docker.io/istio/examples-helloworld-v1:1.0",
                                                     "registry.example/mesh/meshctl:0.3.1",
                                                     "registry.example/mesh/meshctl:0.3.1"}));
  // istiod and the gateways run the same image.
  auto manifest = testing::RunCommand(bin_ + " manifest generate --profile demo --set hub=registry.example/mesh "
                                             "--set tag=0.3.1");
  ASSERT_EQ(manifest.exit_code, 0) << manifest.err;
  std::vector<std::string> images = Images(manifest.out);
  ASSERT_GE(images.size(), 3u) << manifest.out;  // istiod, ingress, egress (+ the injector template)
  for (const std::string& image : images) {
    EXPECT_EQ(image, "registry.example/mesh/meshctl:0.3.1");
  }
  // An explicit values file wins over the state.
  std::string values = dir_.Write("values.json", R"({"global": {"hub": "other.example", "tag": "9"}})");
  auto v = Run("kube-inject --values-file " + values + " -f " + Data("deployment.yaml"));
  ASSERT_EQ(v.exit_code, 0) << v.err;
  EXPECT_EQ(Images(v.out).back(), "other.example/meshctl:9");
}

// Docker is not available here: check the Dockerfile's shape and that every file it
// copies from the build context exists.
TEST(Dockerfile, ReferencesFilesThatExist) {
  std::string root = testing::SourceDir();
  auto text = common::ReadFile(root + "/Dockerfile");
  ASSERT_TRUE(text.ok()) << text.status();
  std::vector<std::string> stages;
  int copies = 0;
  for (const std::string& raw : common::Split(*text, '\n')) {
    std::string line(common::StripWhitespace(raw));
    if (line.rfind("FROM ", 0) == 0) {
      stages.push_back(line);
    }
    if (line.rfind("COPY ", 0) == 0 && line.find("--from=") == std::string::npos) {
      std::vector<std::string> words = common::Split(line, ' ', true);
      ASSERT_GE(words.size(), 3u) << line;
      for (size_t i = 1; i + 1 < words.size(); ++i) {
        if (words[i].rfind("--", 0) == 0) {
          continue;
        }
        EXPECT_TRUE(std::filesystem::exists(root + "/" + words[i])) << "COPY source missing: " << words[i];
        ++copies;
      }
    }
  }
  ASSERT_EQ(stages.size(), 2u) << "multi-stage: build + runtime";
  EXPECT_NE(stages[0].find("debian:12"), std::string::npos) << stages[0];
  EXPECT_NE(stages[1].find("debian:12"), std::string::npos) << stages[1];
  EXPECT_GT(copies, 0);
  for (const char* needed : {"scripts/install_deps.sh", "scripts/build.sh", "COPY --from=build",
                             "ENTRYPOINT [\"/usr/local/bin/meshctl\"]", "iptables", "USER 1337"}) {
    EXPECT_NE(text->find(needed), std::string::npos) << needed;
  }
  auto ignore = common::ReadFile(root + "/.dockerignore");
  ASSERT_TRUE(ignore.ok());
  EXPECT_NE(ignore->find("build"), std::string::npos);
}

}  // namespace
}  // namespace mesh::inject

namespace mesh::inject {
namespace {

// The sidecar template install writes into ConfigMap istio-sidecar-injector describes
// what the injector really adds: same containers, images, fixed args, env, probes,
// security contexts and volumes.
TEST(InjectorConfigMap, TemplateMatchesTheInjector) {
  std::string bin = MeshctlForTest();
  if (bin.empty()) {
    GTEST_SKIP() << "meshctl binary not found (set MESHCTL_BIN)";
  }
  auto manifest = testing::RunCommand(bin + " manifest generate --profile demo --set hub=registry.example/mesh");
  ASSERT_EQ(manifest.exit_code, 0) << manifest.err;
  config::Node configmap;
  for (const auto& doc : config::ParseYamlDocuments(manifest.out, "manifest").documents) {
    if (doc.root["kind"].Str() == "ConfigMap" && doc.root["metadata"]["name"].Str() == "istio-sidecar-injector") {
      configmap = doc.root;
    }
  }
  ASSERT_TRUE(configmap.IsMap());
  auto cfg = config::ParseYamlNode(configmap["data"]["config"].Str(), "config");
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  auto tmpl = config::ParseYamlNode((*cfg)["templates"]["sidecar"].Str(), "templates.sidecar");
  ASSERT_TRUE(tmpl.ok()) << tmpl.status();
  auto values = config::ParseYamlNode(configmap["data"]["values"].Str(), "values");
  ASSERT_TRUE(values.ok()) << values.status();
  auto settings = SettingsFromValues(*values);
  ASSERT_TRUE(settings.ok());

  auto text = common::ReadFile(testing::SourceDir() + "/tests/testdata/inject/deployment.yaml");
  ASSERT_TRUE(text.ok());
  auto injected = InjectManifest(*text, "deployment.yaml", *settings);
  ASSERT_TRUE(injected.ok()) << injected.status();
  config::Node pod = config::ParseYamlDocuments(injected->yaml, "out").documents.at(0).root["spec"]["template"];

  auto has_placeholder = [](const config::Node& n) { return n.Str().find("{{") != std::string::npos; };
  for (const char* list : {"initContainers", "containers"}) {
    const config::Node& want = (*tmpl)["spec"][list].items().at(0);
    const config::Node* got = nullptr;
    for (const config::Node& c : pod["spec"][list].items()) {
      got = c["name"] == want["name"] ? &c : got;
    }
    ASSERT_NE(got, nullptr) << want["name"].Str();
    EXPECT_EQ((*got)["image"].Str(), "registry.example/mesh/meshctl:1.29.0");
    EXPECT_EQ((*got)["image"], want["image"]);
    for (const char* field : {"securityContext", "ports", "readinessProbe", "volumeMounts"}) {
      EXPECT_EQ((*got)[field], want[field]) << list << " " << field;
    }
    // Fixed arguments in the same order; placeholders stand for pod-specific ones.
    const auto& got_args = (*got)["args"].items();
    const auto& want_args = want["args"].items();
    ASSERT_GE(got_args.size(), want_args.size() - 1);
    for (size_t i = 0; i < want_args.size(); ++i) {
      if (!has_placeholder(want_args[i])) {
        EXPECT_EQ(got_args[i].Str(), want_args[i].Str()) << list << " arg " << i;
      }
    }
    std::vector<std::string> got_env, want_env;
    for (const config::Node& e : (*got)["env"].items()) {
      got_env.push_back(e["name"].Str());
    }
    for (const config::Node& e : want["env"].items()) {
      want_env.push_back(e["name"].Str());
      if (!has_placeholder(e["value"])) {
        for (const config::Node& g : (*got)["env"].items()) {
          if (g["name"] == e["name"]) {
            EXPECT_EQ(g, e) << e["name"].Str();
          }
        }
      }
    }
    EXPECT_EQ(got_env, want_env);
  }
  EXPECT_EQ(pod["spec"]["volumes"], (*tmpl)["spec"]["volumes"]);
  for (const auto& [k, v] : (*tmpl)["metadata"]["labels"].entries()) {
    EXPECT_TRUE(pod["metadata"]["labels"].Find(k) != nullptr) << k;
  }
  for (const auto& [k, v] : (*tmpl)["metadata"]["annotations"].entries()) {
    ASSERT_TRUE(pod["metadata"]["annotations"].Find(k) != nullptr) << k;
    if (!has_placeholder(v)) {
      EXPECT_EQ(pod["metadata"]["annotations"][k].Str(), v.Str()) << k;
    }
  }
}

}  // namespace
}  // namespace mesh::inject
