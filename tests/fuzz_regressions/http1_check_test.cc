// The proxy's HTTP/1.1 handling as pure functions (mesh/proxy/http1_check.h): the same
// verdicts the proxy gives on the wire (tests/proxy/http_integration_test.cc covers those
// end to end).
#include "mesh/proxy/http1_check.h"

#include <gtest/gtest.h>

namespace mesh::proxy {
namespace {

Http1Limits Limits(size_t read_chunk = 4096) {
  Http1Limits l;
  l.read_chunk = read_chunk;
  return l;
}

TEST(Http1CheckTest, PipelinedRequestsWithBodies) {
  for (size_t chunk : {1u, 7u, 4096u}) {
    auto r = ParseHttp1Requests(
        "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
        "POST /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
        "GET /c HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
        Limits(chunk));
    ASSERT_EQ(r.size(), 3u) << chunk;
    EXPECT_EQ(r[0].status, 0);
    EXPECT_EQ(r[0].body_bytes, 5u);
    EXPECT_EQ(r[1].target, "/b");
    EXPECT_EQ(r[1].body_bytes, 3u);
    EXPECT_TRUE(r[1].body_complete);
    EXPECT_EQ(r[2].target, "/c");
    EXPECT_FALSE(r[2].keep_alive);
  }
}

TEST(Http1CheckTest, SmugglingShapesAreRejected) {
  // Content-Length together with Transfer-Encoding: Beast refuses it.
  auto a = ParseHttp1Requests("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
                              Limits());
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].status, 400);
  // Transfer-Encoding whose last coding is not chunked: the body length is unknowable.
  auto b = ParseHttp1Requests("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", Limits());
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].status, 400);
  // Two different Content-Lengths.
  auto c = ParseHttp1Requests("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
                              Limits());
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].status, 400);
  // HTTP/1.1 without Host, and a target that is neither origin-form nor "*" (absolute-form
  // http:// targets are rewritten before these rules: see AbsoluteFormTargets).
  EXPECT_EQ(ParseHttp1Requests("GET / HTTP/1.1\r\n\r\n", Limits())[0].status, 400);
  EXPECT_EQ(ParseHttp1Requests("GET h/x HTTP/1.1\r\nHost: h\r\n\r\n", Limits())[0].status, 400);
  EXPECT_EQ(ParseHttp1Requests("GET https://h/x HTTP/1.1\r\nHost: h\r\n\r\n", Limits())[0].status, 400);
}

TEST(Http1CheckTest, AbsoluteFormTargets) {
  auto rewrite = [](std::string_view target, bool connect = false) {
    auto r = RewriteAbsoluteForm(target, connect);
    return r ? r->authority + " " + r->target : std::string("none");
  };
  EXPECT_EQ(rewrite("http://svc.ns:8080/a/b?x=1"), "svc.ns:8080 /a/b?x=1");
  EXPECT_EQ(rewrite("HTTP://Svc/"), "Svc /");  // the scheme is case-insensitive
  EXPECT_EQ(rewrite("http://svc"), "svc /");
  EXPECT_EQ(rewrite("http://svc?q=1"), "svc /?q=1");
  EXPECT_EQ(rewrite("http://svc#frag"), "svc /#frag");
  EXPECT_EQ(rewrite("http://user@svc/x"), "none");  // userinfo: left alone (then 400)
  EXPECT_EQ(rewrite("http:///x"), "none");          // no authority
  EXPECT_EQ(rewrite("http://"), "none");
  EXPECT_EQ(rewrite("https://svc/x"), "none");
  EXPECT_EQ(rewrite("/x"), "none");
  EXPECT_EQ(rewrite("http://svc:80/x", /*connect=*/true), "none");
  // Through the request parser: routed by the URI's authority, which wins over Host.
  auto r = ParseHttp1Requests("GET http://b.example:81/p?q HTTP/1.1\r\nHost: a.example\r\n\r\n", Limits());
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, 0);
  EXPECT_EQ(r[0].authority, "b.example:81");
  EXPECT_EQ(r[0].target, "/p?q");
  // HTTP/1.1 without Host is fine when the absolute-form target carries the authority.
  EXPECT_EQ(ParseHttp1Requests("GET http://b/ HTTP/1.1\r\n\r\n", Limits())[0].status, 0);
  EXPECT_EQ(ParseHttp1Requests("GET http://u@b/ HTTP/1.1\r\nHost: b\r\n\r\n", Limits())[0].status, 400);
}

TEST(Http1CheckTest, HeaderLimits) {
  Http1Limits l = Limits();
  l.max_headers_count = 2;
  EXPECT_EQ(ParseHttp1Requests("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n", l)[0].status, 431);
  l = Limits();
  l.max_request_headers_kb = 1;
  std::string big = "GET / HTTP/1.1\r\nHost: h\r\nX: " + std::string(2000, 'x') + "\r\n\r\n";
  EXPECT_EQ(ParseHttp1Requests(big, l)[0].status, 431);
}

TEST(Http1CheckTest, ResponsesInterimHeadAndChunked) {
  auto r = ParseHttp1Response(
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n", false,
      Limits(3));
  EXPECT_TRUE(r.header_ok);
  EXPECT_EQ(r.status_code, 200);
  EXPECT_EQ(r.interim_responses, 1u);
  EXPECT_EQ(r.body_bytes, 4u);
  EXPECT_TRUE(r.body_complete);

  auto head = ParseHttp1Response("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", true, Limits());
  EXPECT_TRUE(head.body_complete);
  EXPECT_EQ(head.body_bytes, 0u);

  auto eof = ParseHttp1Response("HTTP/1.0 200 OK\r\n\r\nuntil close", false, Limits());
  EXPECT_EQ(eof.body_bytes, 11u);
  EXPECT_TRUE(eof.body_complete);

  auto cut = ParseHttp1Response("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", false, Limits());
  EXPECT_FALSE(cut.body_complete);
  EXPECT_EQ(cut.body_bytes, 3u);
}

}  // namespace
}  // namespace mesh::proxy
