// The JSON line `remotemedia run` writes for an output describes a video frame by its shape.
#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>

#include "output_writer.hpp"

using rm::runtime::Bytes;
using rm::runtime::RuntimeData;

TEST(OutputRecord, a_full_hd_frame_is_described_by_its_shape_not_its_six_megabytes_of_pixels) {
  auto f = RuntimeData::make_video(Bytes(std::vector<std::byte>(1920 * 1080 * 3, std::byte{9})), 1920, 1080,
                                   rm::runtime::PixelFormat::rgb24, 12, 400'000);
  ASSERT_TRUE(f) << f.error();
  const auto line = boost::json::serialize(rm::cli::output_record("cam", **f));
  EXPECT_EQ(line, R"({"node":"cam","type":"video","timestamp_us":400000,"video":{"width":1920,"height":1080,)"
                  R"("pixel_format":"rgb24","frame_number":12,"bytes":6220800}})");
}
