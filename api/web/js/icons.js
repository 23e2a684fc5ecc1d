// Line icons as inline SVG (no icon font, no emoji font needed on the phone).

import { s } from "./dom.js";

const PATHS = {
  phone:
    "M6.6 10.8a15 15 0 0 0 6.6 6.6l2.2-2.2a1 1 0 0 1 1-.25c1.1.37 2.3.57 3.6.57a1 1 0 0 1 1 1V20a1 1 0 0 1-1 1C10.6 21 3 13.4 3 4a1 1 0 0 1 1-1h3.5a1 1 0 0 1 1 1c0 1.25.2 2.45.57 3.57a1 1 0 0 1-.25 1z",
  emergency_button:
    "M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18zm0 4.5a4.5 4.5 0 1 1 0 9 4.5 4.5 0 0 1 0-9z",
  smoke:
    "M4 5h16v4H4zM6 13c1.5-1.5 3 1.5 4.5 0s3 1.5 4.5 0 3 1.5 3 0M6 17c1.5-1.5 3 1.5 4.5 0s3 1.5 4.5 0 3 1.5 3 0",
  gas: "M12 2.5c.8 3 5 5.3 5 10a5 5 0 0 1-10 0c0-2.4 1.3-3.9 2.4-5.3.3 1.6 1.2 2.6 2.1 3C11.4 8 11.2 5 12 2.5z",
  pir: "M12 4.5a2 2 0 1 1 0 4 2 2 0 0 1 0-4zM9 20l1-6-2-2 2-3h4l2 3-2 2 1 6M4 8a9 9 0 0 0 0 8M20 8a9 9 0 0 1 0 8",
  check: "M5 12.5l4.5 4.5L19 7.5",
  dot: "M12 8a4 4 0 1 1 0 8 4 4 0 0 1 0-8z",
  alert: "M12 3l10 18H2zM12 10v5M12 17.5v.5",
};

const FILLED = new Set(["phone", "emergency_button", "gas", "dot"]);

export function icon(name, size = 20) {
  const filled = FILLED.has(name);
  return s(
    "svg",
    {
      class: `icon icon-${name}`,
      viewBox: "0 0 24 24",
      width: size,
      height: size,
      "aria-hidden": "true",
      fill: filled ? "currentColor" : "none",
      stroke: filled ? "none" : "currentColor",
      "stroke-width": filled ? null : "2",
      "stroke-linecap": "round",
      "stroke-linejoin": "round",
    },
    s("path", { d: PATHS[name] || PATHS.dot }),
  );
}
