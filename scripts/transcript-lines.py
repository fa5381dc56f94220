#!/usr/bin/env python3
"""Turns `remotemedia run --timing` JSON lines of a transcription pipeline into one readable
line per transcript, printed as each arrives:

    [  0.19 s ->   6.92 s]  mr john guess would have been at leisure ...   (+0.84 s)

The bracket is the phrase's start/end in the audio, the (+x s) how long after the phrase ended
its transcript came out (meaningful with --realtime). Lines that are not transcripts pass
through unchanged. --summary prints latency percentiles and the real-time factor at the end.
"""
import json
import sys


def percentile(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100 * (len(s) - 1)))))
    return s[k]


def main():
    summary = "--summary" in sys.argv[1:]
    latencies, audio_s, decode_ms = [], 0.0, 0.0
    for line in sys.stdin:
        try:
            rec = json.loads(line)
        except ValueError:
            print(line, end="", flush=True)
            continue
        obj = rec.get("json") if isinstance(rec.get("json"), dict) else None
        if obj is None or "transcript" not in obj:
            print(line, end="", flush=True)
            continue
        start, end = obj.get("start_s", 0.0), obj.get("end_s", 0.0)
        text = obj["transcript"] or "(no words recognised)"
        lat = ""
        if "wall_ms" in rec:
            latency = rec["wall_ms"] / 1000 - end
            latencies.append(latency)
            lat = f"   (+{latency:.2f} s)"
        audio_s += obj.get("audio_s", 0.0)
        decode_ms += obj.get("decode_ms", 0.0)
        print(f"[{start:7.2f} s -> {end:7.2f} s]  {text}{lat}", flush=True)
    if summary and latencies:
        print(f"{len(latencies)} phrases; transcript after end of phrase: "
              f"p50 {percentile(latencies, 50):.2f} s, p95 {percentile(latencies, 95):.2f} s; "
              f"ASR real-time factor {decode_ms / 1000 / audio_s:.2f} "
              f"({decode_ms / 1000:.1f} s decoding for {audio_s:.1f} s of speech)",
              file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
