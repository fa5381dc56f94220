#pragma once
// The WebRTC VAD's C API as exported by libwebrtc_audio_processing.so (Debian's 0.3 package
// exports these symbols but ships no header for them). Signatures match
// webrtc/common_audio/vad/include/webrtc_vad.h of that release:
//   Create() allocates an instance (nullptr on failure); Init() must be called before use and
//   resets the detector's adaptive state; set_mode() takes aggressiveness 0..3; Process()
//   returns 1 (speech), 0 (no speech) or -1 (invalid rate/frame length); valid frames are
//   10, 20 or 30 ms at 8, 16, 32 or 48 kHz.
#include <cstddef>
#include <cstdint>

extern "C" {
struct WebRtcVadInst;
WebRtcVadInst* WebRtcVad_Create();
void WebRtcVad_Free(WebRtcVadInst* handle);
int WebRtcVad_Init(WebRtcVadInst* handle);
int WebRtcVad_set_mode(WebRtcVadInst* handle, int mode);
int WebRtcVad_Process(WebRtcVadInst* handle, int fs, const int16_t* audio_frame, size_t frame_length);
int WebRtcVad_ValidRateAndFrameLength(int rate, size_t frame_length);
}
