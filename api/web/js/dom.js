// A tiny element builder: no template strings of HTML, so nothing a server sends (an
// elder's name, a note) is ever parsed as markup.

const SVG_NS = "http://www.w3.org/2000/svg";
// Set as properties (their attributes only give the initial state); the rest as attributes.
const PROPERTIES = new Set([
  "value",
  "checked",
  "disabled",
  "hidden",
  "selected",
  "muted",
  "playsInline",
]);

function build(element, props, children) {
  for (const [name, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") element.setAttribute("class", value);
    else if (name === "dataset") Object.assign(element.dataset, value);
    else if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (PROPERTIES.has(name) && !(element instanceof SVGElement)) element[name] = value;
    else element.setAttribute(name, value === true ? "" : value);
  }
  append(element, children);
  return element;
}

export function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

export function h(tag, props, ...children) {
  return build(document.createElement(tag), props, children);
}

export function s(tag, props, ...children) {
  return build(document.createElementNS(SVG_NS, tag), props, children);
}

// Empty `element`, then append `children` (nested arrays, null and false are skipped).
export function clear(element, ...children) {
  element.replaceChildren();
  return append(element, children);
}

export function $(selector, root = document) {
  return root.querySelector(selector);
}

let toastTimer = 0;
export function toast(message, kind = "info") {
  const box = $("#toast");
  box.textContent = message;
  box.dataset.kind = kind;
  box.hidden = false;
  box.onclick = () => (box.hidden = true);
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (box.hidden = true), 4000);
}
