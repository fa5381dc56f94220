// SileroModel: reading and validating the weights file (format in docs/silero-vad.md), the
// per-process cache and the default location.
#include <array>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>

#include "detail/silero_weights.hpp"
#include "nodes/silero_model.hpp"

namespace rm::nodes {

using detail::load_error;

namespace {

constexpr char kMagic[8] = {'R', 'M', 'W', 'E', 'I', 'G', 'H', 'T'};
constexpr std::uint32_t kVersion = 1;

std::uint32_t crc32(const unsigned char* p, std::size_t n) {
  static const auto table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1U) ? 0xEDB88320U ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  std::uint32_t c = 0xFFFFFFFFU;
  for (std::size_t i = 0; i < n; ++i) c = table[(c ^ p[i]) & 0xFFU] ^ (c >> 8);
  return c ^ 0xFFFFFFFFU;
}

// Reads little-endian fields from the file image; every read is bounds-checked so a
// truncated or hostile file yields an error naming the offset, never a crash.
class Reader {
 public:
  Reader(const std::vector<unsigned char>& buf, std::size_t end) : buf_(buf), end_(end) {}
  std::size_t offset() const { return pos_; }
  bool has(std::size_t n) const { return n <= end_ - pos_; }
  template <typename T>
  bool read(T& out) {
    if (!has(sizeof(T))) return false;
    std::memcpy(&out, buf_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  bool read_bytes(std::size_t n, std::string& out) {
    if (!has(n)) return false;
    out.assign(reinterpret_cast<const char*>(buf_.data() + pos_), n);
    pos_ += n;
    return true;
  }
  bool read_floats(std::size_t n, std::vector<float>& out) {
    if (n > (end_ - pos_) / sizeof(float)) return false;
    out.resize(n);
    std::memcpy(out.data(), buf_.data() + pos_, n * sizeof(float));
    pos_ += n * sizeof(float);
    return true;
  }

 private:
  const std::vector<unsigned char>& buf_;
  std::size_t end_;
  std::size_t pos_ = 0;
};

}  // namespace

namespace detail {
std::string shape_string(const std::vector<std::uint32_t>& s) {
  std::string out = "(";
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(s[i]);
  }
  return out + ")";
}

}  // namespace detail

tl::expected<std::shared_ptr<const SileroModel>, SileroWeightsLoadError> SileroModel::load(
    const std::filesystem::path& path) {
  const std::string p = path.string();
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return load_error(SileroWeightsError::not_found,
                      "Silero VAD weights not found at " + p +
                          "; run scripts/fetch-silero-model.sh or set RM_SILERO_WEIGHTS");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return load_error(SileroWeightsError::io_error, "cannot open " + p + " for reading");
  std::vector<unsigned char> buf((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return load_error(SileroWeightsError::io_error, "cannot read " + p);

  if (buf.size() < sizeof(kMagic) || std::memcmp(buf.data(), kMagic, sizeof(kMagic)) != 0) {
    return load_error(SileroWeightsError::bad_magic,
                      p + " is not a weights file (magic RMWEIGHT missing); convert the model "
                          "with scripts/convert_silero_weights.py");
  }
  if (buf.size() < sizeof(kMagic) + 4 + 4) {
    return load_error(SileroWeightsError::truncated, p + " is truncated after the magic");
  }
  Reader r(buf, buf.size() - 4);
  std::string skip;
  r.read_bytes(sizeof(kMagic), skip);
  std::uint32_t version = 0;
  r.read(version);
  if (version != kVersion) {
    return load_error(SileroWeightsError::unsupported_version,
                      p + " has format version " + std::to_string(version) + ", this build reads " +
                          std::to_string(kVersion) + "; re-run scripts/fetch-silero-model.sh");
  }
  auto truncated = [&](const std::string& what) {
    return load_error(SileroWeightsError::truncated, p + " is truncated at offset " +
                                                         std::to_string(r.offset()) + " (" + what +
                                                         "); re-run scripts/fetch-silero-model.sh");
  };
  std::uint32_t meta_len = 0;
  std::string metadata;
  if (!r.read(meta_len) || !r.read_bytes(meta_len, metadata)) return truncated("metadata");
  std::uint32_t count = 0;
  if (!r.read(count)) return truncated("tensor count");
  detail::SileroTensors tensors;
  for (std::uint32_t i = 0; i < count; ++i) {
    std::uint16_t name_len = 0;
    std::string name;
    std::uint8_t dtype = 0;
    std::uint8_t ndim = 0;
    if (!r.read(name_len) || !r.read_bytes(name_len, name) || !r.read(dtype) || !r.read(ndim)) {
      return truncated("tensor header " + std::to_string(i));
    }
    if (dtype != 1) {
      return load_error(SileroWeightsError::bad_shape, p + ": tensor " + name + " has dtype " +
                                                           std::to_string(dtype) + ", expected 1 (float32)");
    }
    detail::SileroTensor t;
    std::size_t elems = 1;
    for (std::uint8_t d = 0; d < ndim; ++d) {
      std::uint32_t dim = 0;
      if (!r.read(dim)) return truncated("shape of " + name);
      t.shape.push_back(dim);
      elems *= dim;
      if (elems > buf.size()) return truncated("data of " + name);
    }
    if (!r.read_floats(elems, t.data)) return truncated("data of " + name);
    tensors[name] = std::move(t);
  }
  std::uint32_t stored = 0;
  std::memcpy(&stored, buf.data() + buf.size() - 4, 4);
  if (r.offset() != buf.size() - 4) {
    return load_error(SileroWeightsError::truncated, p + ": " + std::to_string(buf.size() - 4 - r.offset()) +
                                                         " unexpected bytes after the last tensor (offset " +
                                                         std::to_string(r.offset()) + ")");
  }
  if (crc32(buf.data(), buf.size() - 4) != stored) {
    return load_error(SileroWeightsError::bad_checksum, p + ": CRC-32 mismatch, the file is corrupt; re-run "
                                                            "scripts/fetch-silero-model.sh");
  }
  return SileroModelBuilder::build(path, tensors, std::move(metadata));
}

tl::expected<std::shared_ptr<const SileroModel>, SileroWeightsLoadError> SileroModel::load_shared(
    const std::filesystem::path& path) {
  static std::mutex mu;
  static std::map<std::string, std::weak_ptr<const SileroModel>> cache;
  std::error_code ec;
  auto canon = std::filesystem::weakly_canonical(path, ec);
  const std::string key = ec ? path.string() : canon.string();
  std::lock_guard lock(mu);
  if (auto it = cache.find(key); it != cache.end()) {
    if (auto sp = it->second.lock()) return sp;
  }
  auto loaded = load(path);
  if (loaded) cache[key] = *loaded;
  return loaded;
}

std::filesystem::path SileroModel::default_path() {
  if (const char* e = std::getenv("RM_SILERO_WEIGHTS"); e != nullptr && *e != '\0') return e;
  std::filesystem::path base;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x != nullptr && *x != '\0') {
    base = x;
  } else if (const char* h = std::getenv("HOME"); h != nullptr && *h != '\0') {
    base = std::filesystem::path(h) / ".cache";
  } else {
    base = "/tmp";
  }
  return base / "remotemedia" / "silero_vad_v5.rmw";
}

}  // namespace rm::nodes
