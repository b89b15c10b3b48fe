// Probe rewriting by the injector, and the sidecar's prober answering kubelet on the
// status port by probing a real application (the echo server) with curl as kubelet.

#include "gtest/gtest.h"
#include "mesh/common/file_util.h"
#include "mesh/config/yaml_loader.h"
#include "mesh/echo/echo_server.h"
#include "mesh/inject/app_prober.h"
#include "mesh/inject/injector.h"
#include "tests/common/test_util.h"

namespace mesh::inject {
namespace {

using config::Node;

TEST(ProbeRewrite, GoldenAndProbersEnv) {
  auto text = common::ReadFile(testing::SourceDir() + "/tests/testdata/inject/probes.yaml");
  ASSERT_TRUE(text.ok());
  auto r = InjectManifest(*text, "probes.yaml", InjectionSettings{});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(testing::CompareGolden("inject/probes.injected.yaml", r->yaml), "");
  Node spec = config::ParseYamlDocuments(r->yaml, "out").documents.at(0).root["spec"]["template"]["spec"];
  const Node& api = spec["containers"].items().at(0);
  EXPECT_EQ(api["readinessProbe"]["httpGet"]["path"].Str(), "/app-health/api/readyz");
  EXPECT_EQ(api["readinessProbe"]["httpGet"]["port"].Str(), "15020");
  EXPECT_EQ(api["readinessProbe"]["periodSeconds"].Str(), "5");  // the rest kept
  EXPECT_EQ(api["livenessProbe"]["httpGet"]["path"].Str(), "/app-health/api/livez");
  EXPECT_FALSE(api["livenessProbe"]["tcpSocket"].Defined());
  EXPECT_TRUE(api["startupProbe"]["exec"].IsMap());                           // exec untouched
  EXPECT_EQ(spec["containers"].items().at(1)["readinessProbe"]["httpGet"]["port"].Str(), "9443");  // HTTPS untouched
  std::string probers;
  for (const Node& e : spec["containers"].items().at(2)["env"].items()) {
    if (e["name"].Str() == "ISTIO_KUBE_APP_PROBERS") {
      probers = e["value"].Str();
    }
  }
  auto parsed = ParseAppProbers(probers);
  ASSERT_TRUE(parsed.ok()) << parsed.status() << probers;
  ASSERT_EQ(parsed->size(), 2u);
  const AppProbe& ready = parsed->at("/app-health/api/readyz");
  EXPECT_FALSE(ready.tcp);
  EXPECT_EQ(ready.port, 8080);  // the named port resolved
  EXPECT_EQ(ready.path, "/ready");
  EXPECT_EQ(ready.headers.at("X-Probe"), "kubelet");
  const AppProbe& live = parsed->at("/app-health/api/livez");
  EXPECT_TRUE(live.tcp);
  EXPECT_EQ(live.timeout, std::chrono::seconds(2));

  // Turned off per pod or by values: probes stay, no env.
  InjectionSettings off;
  off.rewrite_app_probes = false;
  auto unchanged = InjectManifest(*text, "probes.yaml", off);
  ASSERT_TRUE(unchanged.ok());
  EXPECT_EQ(unchanged->yaml.find("/app-health/"), std::string::npos);
  EXPECT_EQ(unchanged->yaml.find("ISTIO_KUBE_APP_PROBERS"), std::string::npos);
}

TEST(ParseAppProbers, Errors) {
  EXPECT_TRUE(ParseAppProbers("")->empty());
  EXPECT_EQ(ParseAppProbers(R"({"/a": {"exec": {}}})").status().message(), "/a: needs httpGet or tcpSocket");
  EXPECT_EQ(ParseAppProbers(R"({"/a": {"httpGet": {"port": "http"}}})").status().message(),
            "/a: port must be a number 1-65535, got \"http\"");
  EXPECT_EQ(ParseAppProbers(R"({"/a": {"httpGet": {"port": 1, "scheme": "HTTPS"}}})").status().message(),
            "/a: scheme HTTPS is not supported (HTTP only)");
  EXPECT_FALSE(ParseAppProbers("[1]").ok());
}

TEST(AppProber, AnswersFromTheApplicationsHealth) {
  auto app = echo::StartEchoServer({});
  ASSERT_TRUE(app.ok()) << app.status();
  int app_port = (*app)->port();
  // A port nothing listens on: take one from a server and stop it.
  auto gone = echo::StartEchoServer({});
  ASSERT_TRUE(gone.ok());
  int dead_port = (*gone)->port();
  (*gone)->Stop();

  AppProberOptions o;
  o.address = "127.0.0.1";
  o.port = 0;
  o.probes["/app-health/app/readyz"] = AppProbe{false, "/ready", app_port, {}, std::chrono::seconds(5)};
  o.probes["/app-health/app/livez"] = AppProbe{true, "/", app_port, {}, std::chrono::seconds(5)};
  o.probes["/app-health/app/startupz"] = AppProbe{false, "/?status=503", app_port, {}, std::chrono::seconds(5)};
  o.probes["/app-health/down/readyz"] = AppProbe{false, "/", dead_port, {}, std::chrono::seconds(5)};
  o.probes["/app-health/down/livez"] = AppProbe{true, "/", dead_port, {}, std::chrono::seconds(5)};
  auto prober = StartAppProber(o);
  ASSERT_TRUE(prober.ok()) << prober.status();
  std::string base = "http://127.0.0.1:" + std::to_string((*prober)->port());
  auto code = [&](const std::string& path) {
    return testing::RunCommand("curl -s -o /dev/null -w '%{http_code}' --max-time 20 " + base + path).out;
  };
  EXPECT_EQ(code("/app-health/app/readyz"), "200");
  EXPECT_EQ(code("/app-health/app/livez"), "200");
  EXPECT_EQ(code("/app-health/app/startupz"), "503");  // the app answered 503
  EXPECT_EQ(code("/app-health/down/readyz"), "503");   // nothing listening
  EXPECT_EQ(code("/app-health/down/livez"), "503");
  EXPECT_EQ(code("/app-health/other/readyz"), "404");
  (*prober)->Stop();
  (*app)->Stop();
}

}  // namespace
}  // namespace mesh::inject
