// embed_example <manifest.yaml> <audio.wav> [input-name]
// Loads a manifest and streams a WAV/FLAC file through PipelineExecutor in 20 ms chunks, the
// seed's first example in C++:
//   let manifest = Manifest::from_file("pipeline.yaml")?;
//   let executor = PipelineExecutor::new(manifest)?;
//   executor.execute_streaming(audio_stream).await?;
// Prints one line per output ("<node> audio <frames> frames @ <rate> Hz, peak <p>" or
// "<node> <type>") and a summary; exits 1 with the error on failure.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>

#include <media/audio_file.hpp>
#include <runtime/executor.hpp>
#include <runtime/input_stream.hpp>
#include <runtime/manifest.hpp>

namespace rt = rm::runtime;

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s <manifest.yaml> <audio.wav> [input-name]\n", argv[0]);
    return 2;
  }
  auto manifest = rt::Manifest::from_file(argv[1]);
  if (!manifest) {
    std::fprintf(stderr, "%s\n", manifest.error().to_string().c_str());
    return 1;
  }
  auto audio = rm::media::read_audio_file(argv[2]);
  if (!audio) {
    std::fprintf(stderr, "%s\n", audio.error().message.c_str());
    return 1;
  }
  const double seconds = audio->duration_s();
  rt::AudioInputStream stream;  // 20 ms chunks with exact media timestamps
  stream.add(argc > 3 ? argv[3] : "", std::move(*audio));

  rt::PipelineExecutor executor(std::move(*manifest));
  std::mutex mu;
  std::map<std::string, std::size_t> frames_by_node;
  std::size_t outputs = 0;
  auto status = executor.execute_streaming(stream, [&](const std::string& node, const rt::DataPtr& d) {
    std::lock_guard lock(mu);
    ++outputs;
    if (const auto* a = d->audio()) {
      float peak = 0;
      for (float s : a->view()) peak = std::max(peak, std::fabs(s));
      frames_by_node[node] += a->frames();
      std::printf("%s audio %zu frames @ %u Hz, peak %.4f\n", node.c_str(), a->frames(), a->sample_rate,
                  peak);
    } else {
      std::printf("%s %s\n", node.c_str(), std::string(rt::to_string(d->type)).c_str());
    }
  });
  if (!status) {
    std::fprintf(stderr, "error: %s\n", status.error().message.c_str());
    return 1;
  }
  std::printf("streamed %.2f s of audio: %zu outputs\n", seconds, outputs);
  for (const auto& [node, frames] : frames_by_node)
    std::printf("total %s %zu frames\n", node.c_str(), frames);
  return 0;
}
