#include "mesh/common/file_util.h"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <sstream>
#include <unistd.h>
#include "mesh/common/strings.h"


namespace mesh::common {
namespace {

absl::Status ErrnoStatus(std::string_view what, const std::string& path, int err) {
  std::string msg = common::StrCat(what, " ", path, ": ", std::strerror(err));
  if (err == ENOENT) {
    return absl::NotFoundError(msg);
  }
  if (err == EACCES || err == EPERM) {
    return absl::PermissionDeniedError(msg);
  }
  return absl::InternalError(msg);
}

absl::Status WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return ErrnoStatus("write", path, errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

std::atomic<AtomicWriteHook> g_atomic_write_hook{nullptr};

}  // namespace

void SetAtomicWriteHookForTesting(AtomicWriteHook hook) { g_atomic_write_hook.store(hook); }

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  if (path == "-") {
    std::ostringstream out;
    out << std::cin.rdbuf();
    return out.str();
  }
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return ErrnoStatus("open", path, errno);
  }
  std::string content;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      int err = errno;
      ::close(fd);
      return ErrnoStatus("read", path, err);
    }
    if (n == 0) {
      break;
    }
    content.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return content;
}

absl::Status MakeDirs(const std::string& path, mode_t mode) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) {
    return absl::InternalError(common::StrCat("mkdir ", path, ": ", ec.message()));
  }
  (void)mode;
  return absl::OkStatus();
}

absl::Status WriteFileAtomic(const std::string& path, std::string_view content, mode_t mode) {
  std::filesystem::path target(path);
  std::filesystem::path dir = target.parent_path();
  if (dir.empty()) {
    dir = ".";
  }
  std::string tmpl = (dir / ("." + target.filename().string() + ".tmp.XXXXXX")).string();
  int fd = ::mkstemp(tmpl.data());
  if (fd < 0) {
    return ErrnoStatus("create temporary file for", path, errno);
  }
  auto fail = [&](absl::Status st) {
    ::close(fd);
    ::unlink(tmpl.c_str());
    return st;
  };
  if (::fchmod(fd, mode) != 0) {
    return fail(ErrnoStatus("chmod", tmpl, errno));
  }
  if (auto st = WriteAll(fd, content, tmpl); !st.ok()) {
    return fail(st);
  }
  if (::fsync(fd) != 0) {
    return fail(ErrnoStatus("fsync", tmpl, errno));
  }
  if (::close(fd) != 0) {
    ::unlink(tmpl.c_str());
    return ErrnoStatus("close", tmpl, errno);
  }
  if (AtomicWriteHook hook = g_atomic_write_hook.load()) {
    hook(tmpl, path);
  }
  if (::rename(tmpl.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmpl.c_str());
    return ErrnoStatus("rename", path, err);
  }
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return absl::OkStatus();
}

}  // namespace mesh::common
