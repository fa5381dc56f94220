// The weights loader: a valid file written here with random values loads; every kind of damage
// is rejected with its own error code and a message naming the file and the problem.
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#include <gtest/gtest.h>

#include "nodes/silero_model.hpp"

namespace {

using rm::nodes::SileroModel;
using rm::nodes::SileroRate;
using rm::nodes::SileroStream;
using rm::nodes::SileroWeightsError;

struct T {
  std::string name;
  std::vector<std::uint32_t> shape;
};

std::vector<T> tensors_for(const std::string& rate) {
  const std::uint32_t bins = rate == "16k" ? 129 : 65;
  const std::uint32_t n_fft = rate == "16k" ? 256 : 128;
  return {{rate + "/stft.forward_basis_buffer", {2 * bins, 1, n_fft}},
          {rate + "/encoder.0.reparam_conv.weight", {128, bins, 3}},
          {rate + "/encoder.0.reparam_conv.bias", {128}},
          {rate + "/encoder.1.reparam_conv.weight", {64, 128, 3}},
          {rate + "/encoder.1.reparam_conv.bias", {64}},
          {rate + "/encoder.2.reparam_conv.weight", {64, 64, 3}},
          {rate + "/encoder.2.reparam_conv.bias", {64}},
          {rate + "/encoder.3.reparam_conv.weight", {128, 64, 3}},
          {rate + "/encoder.3.reparam_conv.bias", {128}},
          {rate + "/decoder.rnn.weight_ih", {512, 128}},
          {rate + "/decoder.rnn.weight_hh", {512, 128}},
          {rate + "/decoder.rnn.bias_ih", {512}},
          {rate + "/decoder.rnn.bias_hh", {512}},
          {rate + "/decoder.decoder.2.weight", {1, 128, 1}},
          {rate + "/decoder.decoder.2.bias", {1}}};
}

std::uint32_t crc32(const std::vector<unsigned char>& b) {
  std::uint32_t c = 0xFFFFFFFFU;
  for (unsigned char byte : b) {
    c ^= byte;
    for (int k = 0; k < 8; ++k) c = (c & 1U) ? 0xEDB88320U ^ (c >> 1) : c >> 1;
  }
  return c ^ 0xFFFFFFFFU;
}

template <typename V>
void put(std::vector<unsigned char>& b, V v) {
  const std::size_t at = b.size();
  b.resize(at + sizeof(V));
  std::memcpy(b.data() + at, &v, sizeof(V));
}

struct Options {
  std::uint32_t version = 1;
  std::string drop;     // tensor to leave out
  std::string reshape;  // tensor whose first dim is off by one
  std::uint8_t dtype = 1;
};

// Writes the format documented in docs/silero-vad.md, independently of the converter.
std::vector<unsigned char> make_file(const Options& o = {}) {
  std::vector<unsigned char> b;
  for (char ch : std::string("RMWEIGHT")) b.push_back(static_cast<unsigned char>(ch));
  put(b, o.version);
  const std::string meta = R"({"model":"test"})";
  put(b, static_cast<std::uint32_t>(meta.size()));
  for (char ch : meta) b.push_back(static_cast<unsigned char>(ch));
  std::vector<T> all = tensors_for("16k");
  for (auto& t : tensors_for("8k")) all.push_back(t);
  std::erase_if(all, [&](const T& t) { return t.name == o.drop; });
  put(b, static_cast<std::uint32_t>(all.size()));
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0F, 0.05F);
  for (auto t : all) {
    if (t.name == o.reshape) t.shape[0] += 1;
    put(b, static_cast<std::uint16_t>(t.name.size()));
    for (char ch : t.name) b.push_back(static_cast<unsigned char>(ch));
    put(b, o.dtype);
    put(b, static_cast<std::uint8_t>(t.shape.size()));
    std::size_t n = 1;
    for (auto d : t.shape) {
      put(b, d);
      n *= d;
    }
    for (std::size_t i = 0; i < n; ++i) put(b, nd(rng));
  }
  put(b, crc32(b));
  return b;
}

class SileroWeights : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("rm-silero-weights-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path write(const std::vector<unsigned char>& b) {
    auto p = dir_ / "w.rmw";
    std::ofstream(p, std::ios::binary)
        .write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
    return p;
  }
  std::filesystem::path dir_;
};

TEST_F(SileroWeights, a_well_formed_file_loads_and_runs_both_rates) {
  auto m = SileroModel::load(write(make_file()));
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_NE((*m)->metadata().find("test"), std::string::npos);
  for (auto rate : {SileroRate::k16000, SileroRate::k8000}) {
    SileroStream s(*m, rate);
    std::vector<float> w(s.window_samples(), 0.1F);
    const float p = s.process_window(w);
    EXPECT_GE(p, 0.0F);
    EXPECT_LE(p, 1.0F);
  }
}

TEST_F(SileroWeights, a_missing_file_is_not_found_and_names_the_fetch_script) {
  auto m = SileroModel::load(dir_ / "absent.rmw");
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code, SileroWeightsError::not_found);
  EXPECT_NE(m.error().message.find("absent.rmw"), std::string::npos);
  EXPECT_NE(m.error().message.find("fetch-silero-model.sh"), std::string::npos);
}

TEST_F(SileroWeights, a_file_without_the_magic_is_rejected) {
  auto b = make_file();
  b[0] = 'X';
  auto m = SileroModel::load(write(b));
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code, SileroWeightsError::bad_magic);
  auto onnx = SileroModel::load(write({'\x08', '\x07', 'o', 'n', 'n', 'x'}));
  ASSERT_FALSE(onnx);
  EXPECT_EQ(onnx.error().code, SileroWeightsError::bad_magic);
}

TEST_F(SileroWeights, a_newer_format_version_is_rejected_with_both_versions) {
  auto m = SileroModel::load(write(make_file({.version = 2})));
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code, SileroWeightsError::unsupported_version);
  EXPECT_NE(m.error().message.find("version 2"), std::string::npos);
}

TEST_F(SileroWeights, truncation_at_any_point_is_an_error_never_a_crash) {
  const auto b = make_file();
  std::vector<std::size_t> cuts = {0,  4,   8,    11,           15,           20,
                                   40, 100, 1000, b.size() / 2, b.size() - 5, b.size() - 1};
  for (std::size_t cut : cuts) {
    auto m = SileroModel::load(write({b.begin(), b.begin() + static_cast<std::ptrdiff_t>(cut)}));
    ASSERT_FALSE(m) << "cut at " << cut;
    EXPECT_TRUE(m.error().code == SileroWeightsError::truncated ||
                m.error().code == SileroWeightsError::bad_magic ||
                m.error().code == SileroWeightsError::bad_checksum)
        << "cut at " << cut << ": " << m.error().message;
  }
}

TEST_F(SileroWeights, a_flipped_byte_fails_the_checksum) {
  auto b = make_file();
  b[b.size() / 2] ^= 0x40;
  auto m = SileroModel::load(write(b));
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code, SileroWeightsError::bad_checksum);
}

TEST_F(SileroWeights, a_missing_tensor_is_named) {
  auto m = SileroModel::load(write(make_file({.drop = "8k/decoder.rnn.weight_hh"})));
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code, SileroWeightsError::missing_tensor);
  EXPECT_NE(m.error().message.find("8k/decoder.rnn.weight_hh"), std::string::npos);
}

TEST_F(SileroWeights, a_wrong_shape_is_named_with_the_expected_shape) {
  auto m = SileroModel::load(write(make_file({.reshape = "16k/encoder.1.reparam_conv.weight"})));
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code, SileroWeightsError::bad_shape);
  EXPECT_NE(m.error().message.find("16k/encoder.1.reparam_conv.weight"), std::string::npos);
  EXPECT_NE(m.error().message.find("(65, 128, 3)"), std::string::npos);
  EXPECT_NE(m.error().message.find("expected (64, 128, 3)"), std::string::npos);
}

TEST_F(SileroWeights, a_non_float_dtype_is_rejected) {
  auto m = SileroModel::load(write(make_file({.dtype = 7})));
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code, SileroWeightsError::bad_shape);
  EXPECT_NE(m.error().message.find("float32"), std::string::npos);
}

TEST_F(SileroWeights, load_shared_returns_one_instance_per_path) {
  const auto p = write(make_file());
  auto a = SileroModel::load_shared(p);
  auto b = SileroModel::load_shared(p);
  ASSERT_TRUE(a);
  ASSERT_TRUE(b);
  EXPECT_EQ(a->get(), b->get());
}

TEST(SileroStreamState, per_stream_state_is_under_100_kb) {
  EXPECT_LT(sizeof(SileroStream), 100U * 1024U);
}

}  // namespace
