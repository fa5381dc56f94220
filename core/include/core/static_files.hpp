#pragma once
// Static files (web pages and their assets) served from a directory on disk.
//
//   add_static(router, "/", web_root / "dashboard");   // "/" -> index.html, "/app.js", ...
//   add_static(router, "/vendor", web_root / "vendor");
//
// Guarantees:
// - Only regular files under `root` are served: a path with a "." or ".." segment, a hidden
//   file, or anything resolving outside `root` is a 404, never a read outside it.
// - A directory URL serves its index.html. Content-Type from the extension.
// - Every response carries an ETag (size and modification time); If-None-Match with that
//   value answers 304 without a body. HTML is `Cache-Control: no-cache` (always revalidated,
//   so a new build shows at once); other assets `public, max-age=3600`.
// - Files are read per request (pages are small and the OS caches them); a file that cannot
//   be read is a 500 naming it.
// Register static routes after the API routes: earlier routes win, so a prefix of "/" only
// serves what no API route matched.
#include <filesystem>
#include <string>
#include <string_view>

#include "core/http.hpp"

namespace rm::core::http {

void add_static(Router& router, std::string url_prefix, std::filesystem::path root);

// The response for `relative` (decoded, '/'-separated) under `root`; what add_static's routes
// call. `if_none_match` is the request's If-None-Match header, if any.
Response static_file(const std::filesystem::path& root, std::string_view relative,
                     std::string_view if_none_match = {});

std::string_view content_type_for(const std::filesystem::path& file);

}  // namespace rm::core::http
