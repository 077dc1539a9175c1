// OS1 voice: hold the mic button to talk, or turn on hands-free listening in Settings.
// The microphone streams 16 kHz PCM16 to /api/voice (an AudioWorklet downsamples it; a
// ScriptProcessor does where worklets are missing); the reply comes back as PCM16 and is
// scheduled back to back on Web Audio, gapless. On barge_in playback stops at once and
// queued audio is dropped. Uses app.js's globals ($, state, addLine, setStatus, speaking).
"use strict";

const voice = { ws: null, ready: false, ctx: null, stream: null, source: null, node: null,
  held: false, handsfree: false, outRate: 24000, playHead: 0, playing: new Set(),
  you: null, os: null, osId: undefined, idle: null, muteTimer: null, opening: null };
const IDLE_MS = 20000; // hold-to-talk: hang up after this long with nothing going on

function micMessage(err) {
  const name = err && err.name;
  if (name === "NotAllowedError" || name === "SecurityError")
    return "I can't hear you: the microphone is blocked. Allow it for this site in your browser, then try again.";
  if (name === "NotFoundError" || name === "OverconstrainedError")
    return "I can't find a microphone on this device.";
  if (name === "NotReadableError") return "The microphone is busy in another app.";
  return "I couldn't start the microphone; you can still type.";
}

// ---- capture ------------------------------------------------------------------------------
function setMuted(muted) {
  if (!voice.node) return;
  if (voice.node.port) voice.node.port.postMessage({ muted });
  else voice.node.muted = muted;
}
function listening() { return voice.held || voice.handsfree; }
function updateMic() {
  $("mic").classList.toggle("live", listening());
  $("mic").setAttribute("aria-pressed", String(listening()));
  clearTimeout(voice.muteTimer);
  if (listening()) setMuted(false);
  else voice.muteTimer = setTimeout(() => setMuted(!listening()), 200); // keep the last syllable
}
function sendAudio(buffer) {
  if (voice.ready && voice.ws && voice.ws.readyState === WebSocket.OPEN) voice.ws.send(buffer);
}
function scriptCapture(ctx) {
  // Fallback without AudioWorklet: the same box-filter downsampling on the main thread.
  const node = ctx.createScriptProcessor(2048, 1, 1);
  const step = ctx.sampleRate / 16000;
  let pos = 0, sum = 0, count = 0, chunk = new Int16Array(512), fill = 0;
  node.muted = true;
  node.onaudioprocess = (e) => {
    const input = e.inputBuffer.getChannelData(0);
    for (let i = 0; i < input.length; i++) {
      sum += node.muted ? 0 : input[i]; count++; pos++;
      if (pos < step) continue;
      pos -= step;
      const x = Math.max(-1, Math.min(1, sum / count)); sum = 0; count = 0;
      chunk[fill++] = x < 0 ? x * 32768 : x * 32767;
      if (fill === chunk.length) { sendAudio(chunk.buffer); chunk = new Int16Array(512); fill = 0; }
    }
  };
  return node;
}
async function startCapture(ctx) {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    const err = new Error("Voice needs a secure page (https, or localhost)."); err.name = "Insecure"; throw err;
  }
  const stream = await navigator.mediaDevices.getUserMedia({ audio: {
    channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true } });
  voice.stream = stream;
  voice.source = ctx.createMediaStreamSource(stream);
  let node;
  if (ctx.audioWorklet) {
    await ctx.audioWorklet.addModule("/static/mic-worklet.js");
    node = new AudioWorkletNode(ctx, "os1-mic", { numberOfInputs: 1, numberOfOutputs: 1, channelCount: 1 });
    node.port.onmessage = (e) => sendAudio(e.data);
  } else {
    node = scriptCapture(ctx);
  }
  voice.node = node;
  voice.source.connect(node);
  node.connect(ctx.destination); // silent: keeps the node running
}

// ---- playback -----------------------------------------------------------------------------
function play(buffer) {
  const ctx = voice.ctx;
  if (!ctx || buffer.byteLength < 2) return;
  const pcm = new Int16Array(buffer, 0, buffer.byteLength >> 1);
  const audio = ctx.createBuffer(1, pcm.length, voice.outRate);
  const data = audio.getChannelData(0);
  for (let i = 0; i < pcm.length; i++) data[i] = pcm[i] / 32768;
  const src = ctx.createBufferSource();
  src.buffer = audio; src.connect(ctx.destination);
  const at = Math.max(ctx.currentTime + 0.03, voice.playHead);
  src.start(at);
  voice.playHead = at + audio.duration;
  voice.playing.add(src);
  src.onended = () => voice.playing.delete(src);
  speaking(true);
}
function silenceNow() {
  for (const src of voice.playing) { try { src.stop(); } catch (_) { /* already over */ } }
  voice.playing.clear();
  voice.playHead = 0;
}

// ---- the socket ---------------------------------------------------------------------------
function onVoiceFrame(f) {
  poke();
  switch (f.type) {
    case "ready":
      voice.outRate = f.output_rate; voice.ready = true;
      voice.ws.send(JSON.stringify({ type: "hello", sample_rate: 16000 }));
      setStatus(listening() ? "Listening…" : "");
      break;
    case "speech_started":
      if (!voice.you) voice.you = addLine("user", "…", "pending");
      setStatus("Listening…");
      break;
    case "speech_ended": setStatus(""); break;
    case "transcript":
      if (voice.you) {
        if (f.text.trim()) { voice.you.textContent = f.text; voice.you.classList.remove("pending"); }
        else voice.you.remove();
      } else if (f.text.trim()) addLine("user", f.text);
      voice.you = null;
      break;
    case "reply_text":
      if (!voice.os || voice.osId !== f.message_id) {
        voice.os = addLine("assistant", "", "streaming"); voice.osId = f.message_id;
      }
      voice.os.textContent = (voice.os.textContent ? voice.os.textContent + " " : "") + f.text;
      voice.os.scrollIntoView({ block: "end" });
      break;
    case "barge_in":
      silenceNow();
      if (voice.os && voice.osId === f.message_id) {
        voice.os.textContent = f.played_text; voice.os.classList.remove("streaming"); voice.os.classList.add("interrupted");
      }
      voice.os = null; speaking(false);
      break;
    case "reply_ended":
      if (voice.os && voice.osId === f.message_id) {
        voice.os.textContent = f.text; voice.os.classList.remove("streaming");
        if (f.status !== "complete") voice.os.classList.add(f.status);
      }
      voice.os = null; speaking(false);
      break;
    case "notice": setStatus(f.message); break;
    case "error":
      if (f.code === "unavailable" || f.code === "server") addLine("error", f.message);
      else setStatus(f.message);
      break;
  }
}
function onVoiceClose(ws, ev) {
  if (voice.ws !== ws) return;
  const reasons = { 4401: "Please sign in again to talk.", 4429: "A voice conversation is already open elsewhere; close it first.",
    4408: "The connection was too slow for voice.", 1009: "That audio was too large." };
  const wasListening = listening();
  voiceStop(false);
  if (reasons[ev.code]) setStatus(reasons[ev.code]);
  else if (ev.code !== 1000 && ev.code !== 1013 && wasListening) setStatus("Voice disconnected; press the mic to talk again.");
}
function poke() {
  clearTimeout(voice.idle);
  voice.idle = setTimeout(() => {
    if (!listening() && voice.playing.size === 0 && !voice.os) voiceStop(true); else poke();
  }, IDLE_MS);
}

async function voiceStart() {
  if (voice.ws) return true;
  if (voice.opening) return voice.opening;
  const AudioCtx = window.AudioContext || window.webkitAudioContext;
  if (!AudioCtx) { setStatus("This browser cannot play or record audio here; you can still type."); return false; }
  const ctx = new AudioCtx(); // made inside the click, so it may play sound
  voice.ctx = ctx;
  voice.opening = (async () => {
    try {
      await startCapture(ctx);
      if (ctx.state === "suspended") await ctx.resume();
    } catch (err) {
      voiceStop(false);
      setStatus(err.name === "Insecure" ? err.message : micMessage(err));
      return false;
    }
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/api/voice`);
    ws.binaryType = "arraybuffer";
    voice.ws = ws; voice.ready = false;
    setStatus("Getting my voice ready…");
    ws.onmessage = (ev) => {
      if (typeof ev.data !== "string") { play(ev.data); return; }
      let f; try { f = JSON.parse(ev.data); } catch (_) { return; }
      onVoiceFrame(f);
    };
    ws.onclose = (ev) => onVoiceClose(ws, ev);
    updateMic(); poke();
    return true;
  })();
  try { return await voice.opening; } finally { voice.opening = null; }
}
function voiceStop(polite) {
  const ws = voice.ws; voice.ws = null; voice.ready = false;
  if (ws && ws.readyState === WebSocket.OPEN) {
    if (polite) ws.send(JSON.stringify({ type: "end" })); else ws.close(1000);
  }
  clearTimeout(voice.idle); clearTimeout(voice.muteTimer);
  if (voice.stream) for (const t of voice.stream.getTracks()) t.stop();
  if (voice.source) voice.source.disconnect();
  if (voice.node) voice.node.disconnect();
  silenceNow();
  if (voice.ctx) voice.ctx.close().catch(() => {});
  Object.assign(voice, { ctx: null, stream: null, source: null, node: null, you: null, os: null, held: false });
  if (!polite) { voice.handsfree = false; $("handsfree").checked = false; }
  $("mic").classList.remove("live"); $("mic").setAttribute("aria-pressed", "false");
  speaking(false);
}

// ---- controls -----------------------------------------------------------------------------
async function press() {
  if (voice.held) return;
  voice.held = true; poke();
  if (await voiceStart()) updateMic(); else voice.held = false;
}
function release() {
  if (!voice.held) return;
  voice.held = false; updateMic(); poke();
}
const mic = $("mic");
mic.addEventListener("pointerdown", (e) => { e.preventDefault(); mic.setPointerCapture(e.pointerId); press(); });
mic.addEventListener("pointerup", release);
mic.addEventListener("pointercancel", release);
mic.addEventListener("contextmenu", (e) => e.preventDefault()); // a long press on a phone
mic.addEventListener("keydown", (e) => { if ((e.key === " " || e.key === "Enter") && !e.repeat) { e.preventDefault(); press(); } });
mic.addEventListener("keyup", (e) => { if (e.key === " " || e.key === "Enter") release(); });
$("handsfree").addEventListener("change", async (e) => {
  voice.handsfree = e.target.checked;
  if (voice.handsfree) {
    if (await voiceStart()) { updateMic(); setStatus(voice.ready ? "Listening…" : "Getting my voice ready…"); }
    else { voice.handsfree = false; e.target.checked = false; note($("status").textContent); }
  } else { updateMic(); poke(); }
});
$("logout").addEventListener("click", () => voiceStop(false));
