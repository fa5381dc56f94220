#pragma once
// A minimal in-memory ustar writer for image build contexts (a Dockerfile plus a few small
// files). Regular files only, names up to 255 bytes (split into ustar prefix/name),
// deterministic output: fixed mtime, uid/gid 0, so equal contexts give equal bytes.
#include <string>
#include <string_view>

#include "docker/docker_error.hpp"

namespace rm::docker {

class TarWriter {
 public:
  // Adds a regular file; fails on a name that does not fit ustar or is empty/absolute.
  Status add_file(std::string_view name, std::string_view content, unsigned mode = 0644);
  // Appends the two zero end blocks and returns the archive; the writer is empty afterwards.
  std::string finish();

 private:
  std::string out_;
};

}  // namespace rm::docker
