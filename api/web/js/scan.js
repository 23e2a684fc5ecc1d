// Reading a device's code with the phone camera: the BarcodeDetector API where the browser
// has it (Chrome on Android); elsewhere the installer types the ID.

const WANTED = ["qr_code", "data_matrix", "code_128", "code_39", "ean_13"];

export function canScan() {
  return "BarcodeDetector" in window && Boolean(navigator.mediaDevices?.getUserMedia);
}

// Labels carry the bare ID, a URL ending in it, or JSON with device_id / serial.
export function deviceIdFrom(raw) {
  let value = String(raw).trim();
  try {
    const parsed = JSON.parse(value);
    if (parsed && typeof parsed === "object")
      value = parsed.device_id || parsed.serial || parsed.id || value;
  } catch {
    // not JSON
  }
  if (/^https?:\/\//i.test(value)) {
    value = new URL(value).pathname.split("/").filter(Boolean).pop() || value;
  }
  return String(value)
    .replace(/[^A-Za-z0-9_-]/g, "")
    .slice(0, 64);
}

// Start the rear camera in `video`; `result` resolves with the first code read (or null
// when stopped), `stop` releases the camera.
export async function startScan(video) {
  const stream = await navigator.mediaDevices.getUserMedia({
    video: { facingMode: "environment" },
    audio: false,
  });
  video.srcObject = stream;
  await video.play();
  const supported = await window.BarcodeDetector.getSupportedFormats();
  const formats = WANTED.filter((format) => supported.includes(format));
  const detector = new window.BarcodeDetector(formats.length ? { formats } : undefined);
  let stopped = false;
  const stop = () => {
    stopped = true;
    stream.getTracks().forEach((track) => track.stop());
    video.srcObject = null;
  };
  const result = new Promise((resolve) => {
    const look = async () => {
      if (stopped) return resolve(null);
      try {
        const codes = await detector.detect(video);
        if (codes.length) {
          stop();
          return resolve(codes[0].rawValue);
        }
      } catch {
        // a frame that could not be read: try the next one
      }
      setTimeout(look, 250);
    };
    look();
  });
  return { result, stop };
}
