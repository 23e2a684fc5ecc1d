// Pictures as inline SVG: the activity heat-map (hour × day) and line charts of a reading
// over time. They scale with the width of the screen (viewBox), from a phone to a desktop.

import { h, s } from "./dom.js";
import { shortDate } from "./format.js";
import { lang, t } from "./i18n.js";

// A phone's card is about 330 px wide: a viewBox of that width keeps text near 10 px.
const CELL = 12;
const ROW = 16; // taller than wide: seven rows still read at a glance
const GAP = 1.5;
const LABEL_W = 44;
const HEAD_H = 14;

function heatColour(count, max) {
  if (!count) return "#eef1f4";
  // square root: one visit at night must still be visible next to a busy kitchen hour
  const share = Math.sqrt(count / Math.max(max, 1));
  const light = 86 - share * 58;
  return `hsl(168 62% ${light}%)`;
}

// A calendar date's weekday does not depend on the zone it is read in.
function weekday(day) {
  return t("weekday").split(" ")[new Date(`${day}T00:00:00Z`).getUTCDay()] ?? "";
}

function swatch(colour, extra = "") {
  const element = h("i", { class: `swatch ${extra}` });
  element.style.background = colour;
  return element;
}

export function heatmap(activity) {
  const rows = activity.days.length;
  const width = LABEL_W + 24 * CELL;
  const height = HEAD_H + rows * ROW + 4;
  const svg = s("svg", {
    class: "heatmap",
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-label": t("elder.activity"),
    dataset: { total: activity.total },
  });
  for (const hour of [0, 6, 12, 18, 23]) {
    svg.append(
      s(
        "text",
        {
          x: LABEL_W + hour * CELL + CELL / 2,
          y: HEAD_H - 4,
          class: "axis",
          "text-anchor": "middle",
        },
        String(hour),
      ),
    );
  }
  activity.days.forEach((day, row) => {
    const y = HEAD_H + row * ROW;
    const date = Number(day.slice(8, 10));
    const dayLabel = lang() === "en" ? `${weekday(day)} ${date}` : `周${weekday(day)} ${date}`;
    svg.append(s("text", { x: 0, y: y + ROW - 5, class: "axis day" }, dayLabel));
    activity.counts[row].forEach((count, hour) => {
      svg.append(
        s(
          "rect",
          {
            class: "cell",
            x: LABEL_W + hour * CELL,
            y,
            width: CELL - GAP,
            height: ROW - GAP,
            rx: 2,
            fill: heatColour(count, activity.max),
            "data-day": day,
            "data-hour": hour,
            "data-count": count,
          },
          s("title", {}, `${day} ${String(hour).padStart(2, "0")}:00 · ${count}`),
        ),
      );
    });
  });
  const top = activity.max || 1;
  const legend = h(
    "div",
    { class: "legend" },
    h("span", {}, "0"),
    [0.05, 0.25, 0.5, 1].map((share) => swatch(heatColour(share * top, top))),
    h("span", {}, String(activity.max)),
    h("span", { class: "muted" }, t("elder.activity.legend")),
  );
  return h("figure", { class: "chart" }, svg, legend);
}

// --- line charts -------------------------------------------------------------------------

const W = 330;
const H = 160;
const PAD = { left: 30, right: 8, top: 12, bottom: 22 };
export const SERIES_COLOURS = ["#1565c0", "#c62828", "#2e7d32", "#6a1b9a", "#ef6c00", "#00838f"];

function ticks(min, max, count = 3) {
  const step = (max - min) / (count - 1);
  return Array.from({ length: count }, (_, i) => min + i * step);
}

function midnights(since, until) {
  const out = [];
  const day = 86400000;
  // local (UTC+8) midnights between the two instants
  let at = Math.ceil((since + 8 * 3600000) / day) * day - 8 * 3600000;
  for (; at <= until; at += day) out.push(at);
  return out;
}

// series: [{name, values: [{at, value}]}] with `at` in ms; options: {min, max, threshold,
// since, until} (ms). A threshold (an alarm level) is drawn as a dashed red line.
export function lineChart(series, { min = 0, max, threshold, since, until } = {}) {
  const all = series.flatMap((line) => line.values.map((point) => point.value));
  if (!all.length) return h("p", { class: "muted empty-chart" }, t("elder.nodata"));
  const top = max ?? (Math.max(...all, threshold ?? 0) * 1.15 || 1);
  const start = since ?? Math.min(...series.flatMap((l) => l.values.map((p) => p.at)));
  const end = until ?? Math.max(...series.flatMap((l) => l.values.map((p) => p.at)));
  const x = (at) =>
    PAD.left + ((at - start) / Math.max(end - start, 1)) * (W - PAD.left - PAD.right);
  const y = (value) => H - PAD.bottom - ((value - min) / (top - min)) * (H - PAD.top - PAD.bottom);
  const svg = s("svg", {
    class: "line-chart",
    viewBox: `0 0 ${W} ${H}`,
    role: "img",
    dataset: { points: all.length },
  });
  for (const value of ticks(min, top)) {
    svg.append(
      s("line", { x1: PAD.left, x2: W - PAD.right, y1: y(value), y2: y(value), class: "grid" }),
      s(
        "text",
        { x: PAD.left - 4, y: y(value) + 3, class: "axis", "text-anchor": "end" },
        value.toFixed(top < 10 ? 1 : 0),
      ),
    );
  }
  const days = midnights(start, end);
  const every = Math.ceil(days.length / 7);
  days.forEach((at, i) => {
    if (i % every) return;
    svg.append(
      s("line", { x1: x(at), x2: x(at), y1: PAD.top, y2: H - PAD.bottom, class: "grid day" }),
      s("text", { x: x(at), y: H - 6, class: "axis", "text-anchor": "middle" }, shortDate(at)),
    );
  });
  if (threshold !== undefined) {
    svg.append(
      s("line", {
        x1: PAD.left,
        x2: W - PAD.right,
        y1: y(threshold),
        y2: y(threshold),
        class: "threshold",
      }),
      s(
        "text",
        {
          x: W - PAD.right,
          y: y(threshold) - 3,
          class: "axis threshold-label",
          "text-anchor": "end",
        },
        t("elder.threshold", { n: threshold }),
      ),
    );
  }
  series.forEach((line, i) => {
    const colour = SERIES_COLOURS[i % SERIES_COLOURS.length];
    const path = line.values.map(
      (p, j) => `${j ? "L" : "M"}${x(p.at).toFixed(1)},${y(p.value).toFixed(1)}`,
    );
    svg.append(s("path", { d: path.join(""), class: "series", stroke: colour, fill: "none" }));
    if (line.values.length === 1) {
      const [p] = line.values;
      svg.append(s("circle", { cx: x(p.at), cy: y(p.value), r: 2.5, fill: colour }));
    }
  });
  const legend =
    series.length > 1
      ? h(
          "div",
          { class: "legend" },
          series.map((line, i) =>
            h(
              "span",
              { class: "legend-item" },
              swatch(SERIES_COLOURS[i % SERIES_COLOURS.length], "line"),
              line.name,
            ),
          ),
        )
      : null;
  return h("figure", { class: "chart" }, svg, legend);
}
