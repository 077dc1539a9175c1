// OS1 microphone capture, on the audio thread: mono input at the context's rate -> 16 kHz
// PCM16 in 512-sample (32 ms) chunks, posted to the page. Each output sample is the mean of
// the input samples of its period (a box filter against aliasing). While muted (hold-to-talk
// with the button up) it sends silence, so the server's clock keeps running in real time.
"use strict";

class MicCapture extends AudioWorkletProcessor {
  constructor() {
    super();
    this.step = sampleRate / 16000;
    this.pos = 0; this.sum = 0; this.count = 0;
    this.chunk = new Int16Array(512); this.fill = 0;
    this.muted = true;
    this.port.onmessage = (e) => { this.muted = Boolean(e.data && e.data.muted); };
  }

  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    const frames = channel ? channel.length : 128;
    for (let i = 0; i < frames; i++) {
      this.sum += channel && !this.muted ? channel[i] : 0;
      this.count++;
      this.pos++;
      if (this.pos < this.step) continue;
      this.pos -= this.step;
      const x = Math.max(-1, Math.min(1, this.sum / this.count));
      this.sum = 0; this.count = 0;
      this.chunk[this.fill++] = x < 0 ? x * 32768 : x * 32767;
      if (this.fill === this.chunk.length) {
        this.port.postMessage(this.chunk.buffer, [this.chunk.buffer]);
        this.chunk = new Int16Array(512); this.fill = 0;
      }
    }
    return true;
  }
}

registerProcessor("os1-mic", MicCapture);
