#include "mesh/dashboard/prometheus_text.h"

#include <cmath>

#include "gtest/gtest.h"

namespace mesh::dashboard {
namespace {

auto All = [](std::string_view) { return true; };

TEST(PrometheusTextTest, ReadsSamplesLabelsAndValues) {
  auto samples = ParsePrometheusText(
      "# HELP istio_requests_total Total requests.\n"
      "# TYPE istio_requests_total counter\n"
      "istio_requests_total{reporter=\"source\",response_code=\"200\"} 17\n"
      "\n"
      "up 1 1700000000000\n"
      "istio_request_duration_milliseconds_bucket{le=\"+Inf\",path=\"a\\\"b\\\\c\"} 3.5e2\n",
      All);
  ASSERT_TRUE(samples.ok()) << samples.status();
  ASSERT_EQ(samples->size(), 3u);
  EXPECT_EQ((*samples)[0].name, "istio_requests_total");
  EXPECT_EQ((*samples)[0].Label("reporter"), "source");
  EXPECT_EQ((*samples)[0].Label("response_code"), "200");
  EXPECT_EQ((*samples)[0].Label("absent"), "");
  EXPECT_EQ((*samples)[0].value, 17);
  EXPECT_EQ((*samples)[1].name, "up");
  EXPECT_EQ((*samples)[1].value, 1);  // the timestamp is dropped
  EXPECT_EQ((*samples)[2].Label("le"), "+Inf");
  EXPECT_EQ((*samples)[2].Label("path"), "a\"b\\c");
  EXPECT_EQ((*samples)[2].value, 350);
}

TEST(PrometheusTextTest, KeepsOnlyWhatTheFilterAccepts) {
  auto samples = ParsePrometheusText("a_total 1\nb_total{x=\"y\"} 2\nc 3\n",
                                     [](std::string_view n) { return n.starts_with("b"); });
  ASSERT_TRUE(samples.ok());
  ASSERT_EQ(samples->size(), 1u);
  EXPECT_EQ((*samples)[0].name, "b_total");
}

TEST(PrometheusTextTest, SpecialValues) {
  auto samples = ParsePrometheusText("a +Inf\nb -Inf\nc NaN\n", All);
  ASSERT_TRUE(samples.ok());
  EXPECT_TRUE(std::isinf((*samples)[0].value) && (*samples)[0].value > 0);
  EXPECT_TRUE(std::isinf((*samples)[1].value) && (*samples)[1].value < 0);
  EXPECT_TRUE(std::isnan((*samples)[2].value));
}

TEST(PrometheusTextTest, MalformedLinesAreErrorsWithTheirNumber) {
  for (const char* bad : {"ok 1\nbroken{a=\"x\" 1\n", "ok 1\nx{a=b} 1\n", "ok 1\nx twelve\n", "ok 1\n{a=\"b\"} 1\n",
                          "ok 1\nx{a=\"unterminated} 1\n"}) {
    auto samples = ParsePrometheusText(bad, All);
    ASSERT_FALSE(samples.ok()) << bad;
    EXPECT_NE(std::string(samples.status().message()).find("line 2"), std::string::npos) << samples.status();
  }
}

}  // namespace
}  // namespace mesh::dashboard
