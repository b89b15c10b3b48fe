#pragma once

// The dashboard's built front end (web/dashboard/dist), compiled into the binary by
// cmake/EmbedAssets.cmake so the page needs no files, CDN or npm at run time.

#include <string_view>
#include <vector>

namespace mesh::dashboard {

struct EmbeddedAsset {
  std::string_view path;  // relative to /dashboard/: "index.html", "assets/app.js"
  std::string_view content_type;
  std::string_view data;
};

const std::vector<EmbeddedAsset>& DashboardAssets();

}  // namespace mesh::dashboard
