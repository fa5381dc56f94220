#include "docker/tar_writer.hpp"

#include <array>
#include <cstdio>
#include <cstring>

namespace rm::docker {

namespace {

constexpr std::size_t kBlock = 512;

void put_octal(char* field, std::size_t width, unsigned long long value) {
  // width includes the terminating NUL; digits are zero padded.
  std::snprintf(field, width, "%0*llo", static_cast<int>(width - 1), value);
}

}  // namespace

Status TarWriter::add_file(std::string_view name, std::string_view content, unsigned mode) {
  if (name.empty() || name.front() == '/' || name.find("..") != std::string_view::npos) {
    return docker_error(
        DockerErrorCode::invalid_argument,
        "tar entry name '" + std::string(name) + "' must be a non-empty relative path without '..'");
  }
  std::string_view prefix, base = name;
  if (name.size() > 100) {
    // ustar: the name may be split at a '/' into prefix (<= 155) and name (<= 100).
    const auto cut = name.rfind('/', 155);
    if (cut == std::string_view::npos || name.size() - cut - 1 > 100 || cut == 0) {
      return docker_error(DockerErrorCode::invalid_argument,
                          "tar entry name '" + std::string(name) + "' is too long for ustar");
    }
    prefix = name.substr(0, cut);
    base = name.substr(cut + 1);
  }
  std::array<char, kBlock> h{};
  std::memcpy(h.data(), base.data(), base.size());
  put_octal(h.data() + 100, 8, mode & 07777);
  put_octal(h.data() + 108, 8, 0);                  // uid
  put_octal(h.data() + 116, 8, 0);                  // gid
  put_octal(h.data() + 124, 12, content.size());    // size
  put_octal(h.data() + 136, 12, 1'700'000'000ULL);  // fixed mtime: deterministic contexts
  std::memset(h.data() + 148, ' ', 8);              // checksum is computed with spaces here
  h[156] = '0';                                     // regular file
  std::memcpy(h.data() + 257, "ustar", 6);          // magic + NUL
  std::memcpy(h.data() + 263, "00", 2);             // version
  if (!prefix.empty()) std::memcpy(h.data() + 345, prefix.data(), prefix.size());
  unsigned sum = 0;
  for (char c : h) sum += static_cast<unsigned char>(c);
  std::snprintf(h.data() + 148, 8, "%06o", sum);  // 6 digits, NUL, then the space stays
  h[155] = ' ';
  out_.append(h.data(), h.size());
  out_.append(content);
  out_.append((kBlock - content.size() % kBlock) % kBlock, '\0');
  return {};
}

std::string TarWriter::finish() {
  out_.append(2 * kBlock, '\0');
  return std::exchange(out_, {});
}

}  // namespace rm::docker
