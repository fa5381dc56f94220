// AudioWorklet: the microphone's first channel, resampled (linear interpolation) from the
// context's rate to `targetRate`, posted to the page in chunks of `chunkFrames` Float32 samples.
class CaptureProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const { targetRate, chunkFrames } = options.processorOptions;
    this.step = sampleRate / targetRate;  // input samples per output sample
    this.pos = 0;                          // position of the next output sample in `carry` + input
    this.prev = 0;                         // last input sample of the previous block
    this.chunk = new Float32Array(chunkFrames);
    this.fill = 0;
  }

  process(inputs) {
    const input = inputs[0] && inputs[0][0];
    if (!input) return true;
    // Output sample at fractional input index p (p in [-1, input.length - 1]); index -1 is `prev`.
    while (this.pos <= input.length - 1) {
      const i = Math.floor(this.pos);
      const frac = this.pos - i;
      const a = i < 0 ? this.prev : input[i];
      const b = input[i + 1 < input.length ? i + 1 : input.length - 1];
      this.chunk[this.fill++] = a + (b - a) * frac;
      if (this.fill === this.chunk.length) {
        this.port.postMessage(this.chunk.slice());
        this.fill = 0;
      }
      this.pos += this.step;
    }
    this.pos -= input.length;
    this.prev = input[input.length - 1];
    return true;
  }
}
registerProcessor('capture', CaptureProcessor);
