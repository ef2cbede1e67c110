// Jobs (active first), and one job: its status history, the notes shared with the
// customer, and its photo gallery.

import { gql } from '../api.js';
import { badge, h, isoDay, label, replace, safeUrl, span, to, when } from '../dom.js';
import { cards } from './appointments.js';

const CLOSED = new Set(['COMPLETED', 'CANCELLED']);

function jobItem(j) {
  return h('li', { class: 'card' },
    h('div', { class: 'card-head' }, h('h3', {}, to(`jobs/${encodeURIComponent(j.id)}`, j.title)), badge(j.status)),
    j.scheduledStart ? h('p', { class: 'when' }, span(j.scheduledStart, j.scheduledEnd)) : null,
    j.completedAt ? h('p', { class: 'when' }, `Completed ${isoDay(j.completedAt)}`) : null,
    h('p', { class: 'hint' }, j.photos.totalCount === 1 ? '1 photo' : `${j.photos.totalCount} photos`));
}

export async function list() {
  const data = await gql(`query Jobs { jobs(first: 100) { totalCount edges { node {
    id title status scheduledStart scheduledEnd completedAt photos(first: 1) { totalCount } } } } }`);
  const all = data.jobs.edges.map((e) => e.node);
  const active = all.filter((j) => !CLOSED.has(j.status));
  const closed = all.filter((j) => CLOSED.has(j.status));
  return h('section', {}, h('h1', {}, 'Jobs'),
    h('h2', {}, 'Active'), cards(active, jobItem, 'No active jobs right now.'),
    h('h2', {}, 'Completed and cancelled'), cards(closed, jobItem, 'None yet.'));
}

const PHOTO = 'id caption takenAt stage url thumbnailUrl width height';

export async function detail({ params: [id] }) {
  const data = await gql(`query Job($id: ID!) { node(id: $id) { __typename ... on Job {
    id title description status scheduledStart scheduledEnd completedAt
    statusHistory { status message changedAt }
    notes { id body createdAt }
    photos(first: 100) { totalCount edges { node { ${PHOTO} } } }
  } } }`, { id });
  const job = data.node?.__typename === 'Job' ? data.node : null;
  if (!job) return missing('job', 'jobs');
  const history = [...job.statusHistory].reverse(); // newest first to read
  return h('section', {},
    h('p', { class: 'crumbs' }, to('jobs', '← All jobs')),
    h('div', { class: 'title-row' }, h('h1', {}, job.title), badge(job.status)),
    job.scheduledStart ? h('p', { class: 'when' }, 'Scheduled: ', span(job.scheduledStart, job.scheduledEnd)) : null,
    job.completedAt ? h('p', { class: 'when' }, `Completed ${when(job.completedAt)}`) : null,
    job.description ? h('p', { class: 'body-text' }, job.description) : null,
    h('h2', {}, 'Photos'), gallery(job.photos.edges.map((e) => e.node)),
    h('h2', {}, 'Updates'),
    history.length ? h('ol', { class: 'timeline' }, history.map((c) => h('li', {},
      h('div', { class: 'card-head' }, badge(c.status), h('time', { datetime: c.changedAt }, when(c.changedAt))),
      c.message ? h('p', { class: 'body-text' }, c.message) : null))) : h('p', { class: 'empty' }, 'No updates yet.'),
    h('h2', {}, 'Notes'),
    job.notes.length ? h('ul', { class: 'notes' }, job.notes.map((n) => h('li', {},
      h('p', { class: 'body-text' }, n.body), h('p', { class: 'hint' }, h('time', { datetime: n.createdAt }, when(n.createdAt))))))
      : h('p', { class: 'empty' }, 'No notes yet.'));
}

export function missing(what, back) {
  return h('section', { class: 'narrow' }, h('h1', {}, `No such ${what}`),
    h('p', {}, `This ${what} does not exist, or is not yours to see.`), h('p', {}, to(back, `See your ${back}`)));
}

const STAGES = ['BEFORE', 'PROGRESS', 'AFTER'];

function photoLabel(p) {
  return p.caption || `${label(p.stage)} photo, ${isoDay(p.takenAt)}`;
}

// Thumbnails by stage; each opens the full-size image in a dialog (Esc closes, arrows move).
function gallery(photos) {
  if (!photos.length) return h('p', { class: 'empty' }, 'No photos yet.');
  let stage = null;
  const grid = h('ul', { class: 'gallery' });
  const filters = h('div', { class: 'filters', role: 'group', 'aria-label': 'Show photos of stage' });
  const shown = () => photos.filter((p) => !stage || p.stage === stage);
  const viewer = photoDialog(shown);
  const draw = () => {
    replace(filters, [null, ...STAGES].filter((s) => !s || photos.some((p) => p.stage === s)).map((s) => h('button', {
      type: 'button', class: 'chip', 'aria-pressed': String(stage === s),
      onclick: () => { stage = s; draw(); },
    }, s ? label(s) : 'All', ` (${photos.filter((p) => !s || p.stage === s).length})`)));
    replace(grid, shown().map((p, index) => h('li', {}, h('figure', {},
      h('button', { type: 'button', class: 'thumb', onclick: () => viewer.open(index), 'aria-label': `Open photo: ${photoLabel(p)}` },
        h('img', { src: p.thumbnailUrl, alt: '', loading: 'lazy', decoding: 'async', width: 200, height: Math.round(200 * p.height / Math.max(p.width, 1)) })),
      h('figcaption', {}, badge(p.stage), ' ', p.caption || isoDay(p.takenAt))))));
  };
  draw();
  return h('div', {}, filters, grid, viewer.element);
}

function photoDialog(shown) {
  let index = 0;
  const img = h('img', { alt: '' });
  const caption = h('figcaption', {});
  const count = h('p', { class: 'hint', 'aria-live': 'polite' });
  const prev = h('button', { type: 'button', onclick: () => move(-1) }, '← Previous');
  const next = h('button', { type: 'button', onclick: () => move(1) }, 'Next →');
  const close = h('button', { type: 'button', class: 'close', onclick: () => element.close() }, 'Close');
  const element = h('dialog', { class: 'photo-viewer', 'aria-label': 'Photo' },
    h('figure', {}, img, caption), count, h('div', { class: 'actions' }, prev, next, close));
  const draw = () => {
    const photos = shown();
    const p = photos[index];
    img.src = safeUrl(p.url) ?? '';
    img.alt = photoLabel(p);
    img.width = p.width;
    img.height = p.height;
    replace(caption, badge(p.stage), ' ', p.caption ?? '', ' ', h('span', { class: 'hint' }, `Taken ${when(p.takenAt)}`));
    count.textContent = `Photo ${index + 1} of ${photos.length}`;
    prev.disabled = index === 0;
    next.disabled = index === photos.length - 1;
  };
  const move = (step) => {
    const last = shown().length - 1;
    index = Math.min(Math.max(index + step, 0), last);
    draw();
  };
  element.addEventListener('keydown', (event) => {
    if (event.key === 'ArrowLeft') move(-1);
    if (event.key === 'ArrowRight') move(1);
  });
  element.addEventListener('click', (event) => {
    if (event.target === element) element.close(); // a click on the backdrop
  });
  return {
    element,
    open(at) {
      index = at;
      draw();
      element.showModal();
      close.focus();
    },
  };
}
