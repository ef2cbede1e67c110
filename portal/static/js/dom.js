// Building the page from data. Every string from the API goes in as text (text nodes,
// textContent, attributes): nothing here ever parses HTML.

export function meta(name) {
  return document.querySelector(`meta[name="${name}"]`)?.getAttribute('content') ?? '';
}

export const business = meta('portal-business');
export const slug = meta('portal-slug');
export const area = meta('portal-area');
export const base = `/${area}/${encodeURIComponent(slug)}/`;

// h('p', {class: 'note'}, 'text', child) → <p class="note">text<child></p>
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2), value);
    } else if (key === 'class') {
      el.className = value;
    } else if (key === 'href' || key === 'src') {
      const url = safeUrl(value);
      if (url) el.setAttribute(key, url);
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

// Only web addresses, never `javascript:` or `data:` ones, become links or images.
export function safeUrl(value) {
  try {
    const url = new URL(String(value), location.href);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : null;
  } catch {
    return null;
  }
}

// A link to a page of this portal: `to('jobs')`.
export function to(path, ...children) {
  return h('a', { href: base + path }, ...children);
}

const dateTime = new Intl.DateTimeFormat(undefined, {
  weekday: 'short', day: 'numeric', month: 'short', year: 'numeric', hour: 'numeric', minute: '2-digit',
});
const timeOnly = new Intl.DateTimeFormat(undefined, { hour: 'numeric', minute: '2-digit' });
const dateOnly = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', year: 'numeric' });

export function when(iso) {
  return iso ? dateTime.format(new Date(iso)) : '';
}

export function span(startIso, endIso) {
  if (!startIso) return '';
  const start = new Date(startIso);
  const end = endIso ? new Date(endIso) : null;
  if (end && start.toDateString() === end.toDateString()) {
    return `${dateTime.format(start)} – ${timeOnly.format(end)}`;
  }
  return end ? `${dateTime.format(start)} – ${dateTime.format(end)}` : dateTime.format(start);
}

// A `Date` of the API (YYYY-MM-DD): a calendar day, not an instant.
export function day(isoDate) {
  if (!isoDate) return '';
  const [y, m, d] = isoDate.split('-').map(Number);
  return dateOnly.format(new Date(y, m - 1, d));
}

export function isoDay(iso) {
  return iso ? dateOnly.format(new Date(iso)) : '';
}

// Minor units of `currency` → "$1,234.50" (zero-decimal currencies too).
export function money(cents, currency = 'usd') {
  const format = new Intl.NumberFormat(undefined, { style: 'currency', currency: currency.toUpperCase() });
  const digits = format.resolvedOptions().maximumFractionDigits;
  return format.format(cents / 10 ** digits);
}

// "IN_PROGRESS" → "In progress"
export function label(value) {
  const words = String(value ?? '').toLowerCase().replaceAll('_', ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

export function badge(value, kind = String(value ?? '').toLowerCase()) {
  return h('span', { class: `badge badge-${kind.replaceAll('_', '-')}` }, label(value));
}

export function setTitle(title) {
  document.title = title ? `${title} — ${business}` : `${business} — customer portal`;
}

// A field: label, input and a place for its error, tied together for screen readers.
let fieldCount = 0;
export function field(labelText, props, hint) {
  const id = `f${++fieldCount}`;
  const errorId = `${id}-error`;
  const hintId = hint ? `${id}-hint` : null;
  const tag = props.type === 'textarea' ? 'textarea' : 'input';
  const inputProps = { ...props, id, 'aria-describedby': [hintId, errorId].filter(Boolean).join(' ') };
  if (tag === 'textarea') delete inputProps.type;
  const input = h(tag, inputProps);
  const error = h('p', { class: 'field-error', id: errorId });
  const wrapper = h('div', { class: 'field' }, h('label', { for: id }, labelText),
    hint ? h('p', { class: 'hint', id: hintId }, hint) : null, input, error);
  return { wrapper, input, error };
}

export function showFieldError(f, message) {
  f.error.textContent = message ?? '';
  if (message) {
    f.input.setAttribute('aria-invalid', 'true');
  } else {
    f.input.removeAttribute('aria-invalid');
  }
}

// A form's message line: errors are announced (role=alert), successes politely.
export function notice(kind = 'error') {
  return h('p', { class: `notice notice-${kind}`, role: kind === 'error' ? 'alert' : 'status', hidden: true });
}

export function say(el, message, kind) {
  if (kind) el.className = `notice notice-${kind}`;
  el.textContent = message ?? '';
  el.hidden = !message;
}

export function button(text, props = {}) {
  return h('button', { type: 'button', ...props }, text);
}

// Disables a form's controls while `work` runs.
export async function busy(form, work) {
  const controls = [...form.querySelectorAll('button, input, textarea, select')];
  const previous = controls.map((c) => c.disabled);
  controls.forEach((c) => { c.disabled = true; });
  form.setAttribute('aria-busy', 'true');
  try {
    return await work();
  } finally {
    controls.forEach((c, i) => { c.disabled = previous[i]; });
    form.removeAttribute('aria-busy');
  }
}
