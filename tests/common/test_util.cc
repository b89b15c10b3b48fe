#include "tests/common/test_util.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace mesh::testing {
namespace fs = std::filesystem;

std::string SourceDir() {
  const char* dir = std::getenv("MESH_SOURCE_DIR");
  return dir ? dir : MESH_DEFAULT_SOURCE_DIR;
}

std::string MeshctlBinary() {
  const char* bin = std::getenv("MESHCTL_BIN");
  return bin ? bin : MESH_DEFAULT_MESHCTL_BIN;
}

std::string SharedDir() {
  fs::path p = fs::path(SourceDir()) / ".." / "shared";
  if (fs::exists(p / "conformance")) {
    return fs::canonical(p).string();
  }
  return "";
}

static std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string CompareGolden(const std::string& relative_path, const std::string& actual) {
  fs::path path = fs::path(SourceDir()) / "tests" / "testdata" / relative_path;
  const char* update = std::getenv("MESH_UPDATE_GOLDEN");
  if (update != nullptr && std::string(update) == "1") {
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << actual;
    return "";
  }
  if (!fs::exists(path)) {
    return "golden file " + path.string() + " missing (run with MESH_UPDATE_GOLDEN=1)";
  }
  std::string expected = ReadAll(path.string());
  if (expected == actual) {
    return "";
  }
  std::istringstream e(expected), a(actual);
  std::string el, al;
  int line = 1;
  while (true) {
    bool he = static_cast<bool>(std::getline(e, el));
    bool ha = static_cast<bool>(std::getline(a, al));
    if (!he && !ha) {
      break;
    }
    if (el != al || he != ha) {
      return path.string() + ":" + std::to_string(line) + ": expected \"" + (he ? el : "<eof>") +
             "\", got \"" + (ha ? al : "<eof>") + "\" (MESH_UPDATE_GOLDEN=1 rewrites)";
    }
    ++line;
  }
  return path.string() + ": differs in trailing bytes";
}

TempDir::TempDir() {
  std::string tmpl = (fs::temp_directory_path() / "meshctl-test-XXXXXX").string();
  char* p = ::mkdtemp(tmpl.data());
  path_ = p ? p : "";
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::string TempDir::Write(const std::string& name, const std::string& content) const {
  fs::path p = fs::path(path_) / name;
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << content;
  return p.string();
}

CommandResult RunCommand(const std::string& command, const std::string& stdin_data) {
  TempDir dir;
  std::string in = dir.Write("stdin", stdin_data);
  std::string out = (fs::path(dir.path()) / "stdout").string();
  std::string err = (fs::path(dir.path()) / "stderr").string();
  std::string full = "(" + command + ") <'" + in + "' >'" + out + "' 2>'" + err + "'";
  int rc = std::system(full.c_str());
  CommandResult r;
  r.exit_code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  r.out = ReadAll(out);
  r.err = ReadAll(err);
  return r;
}

int FreeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) {
    return 0;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

bool Eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

}  // namespace mesh::testing
