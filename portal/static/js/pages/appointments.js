// Home (what is next) and the appointments page (upcoming and past).

import { gql } from '../api.js';
import { badge, business, h, notice, say, span, to } from '../dom.js';

const APPOINTMENT = 'id title startsAt endsAt location details status job { id title }';

function appointmentItem(a) {
  return h('li', { class: 'card' },
    h('div', { class: 'card-head' }, h('h3', {}, a.title), a.status !== 'SCHEDULED' ? badge(a.status) : null),
    h('p', { class: 'when' }, h('time', { datetime: a.startsAt }, span(a.startsAt, a.endsAt))),
    a.location ? h('p', {}, a.location) : null,
    a.details ? h('p', { class: 'body-text' }, a.details) : null,
    a.job ? h('p', {}, 'For ', to(`jobs/${encodeURIComponent(a.job.id)}`, a.job.title)) : null);
}

function jobItem(j) {
  return h('li', { class: 'card' },
    h('div', { class: 'card-head' }, h('h3', {}, to(`jobs/${encodeURIComponent(j.id)}`, j.title)), badge(j.status)),
    j.scheduledStart ? h('p', { class: 'when' }, span(j.scheduledStart, j.scheduledEnd)) : null);
}

export function cards(items, render, empty) {
  return items.length ? h('ul', { class: 'cards' }, items.map(render)) : h('p', { class: 'empty' }, empty);
}

// A paged list: the first page now, the next ones on "Show more".
export async function paged(query, key, variables, render, empty) {
  const ul = h('ul', { class: 'cards' });
  const more = h('button', { type: 'button', class: 'more' }, 'Show more');
  const wrap = h('div', {}, ul, more);
  const load = async (after) => {
    const data = await gql(query, { ...variables, after });
    const connection = data[key];
    ul.append(...connection.edges.map((e) => render(e.node)));
    more.hidden = !connection.pageInfo.hasNextPage;
    more.onclick = () => load(connection.pageInfo.endCursor).catch(() => {});
    return connection;
  };
  const first = await load(null);
  return first.totalCount ? wrap : h('p', { class: 'empty' }, empty);
}

export async function home({ flash }) {
  const data = await gql(`query Home {
    viewer { ... on Customer { name } }
    appointments(range: UPCOMING, first: 3) { totalCount edges { node { ${APPOINTMENT} } } }
    jobs(status: [SCHEDULED, IN_PROGRESS, ON_HOLD], first: 5) {
      totalCount edges { node { id title status scheduledStart scheduledEnd } } }
  }`);
  const message = notice('success');
  if (flash) say(message, flash, 'success');
  const attention = h('div', {});
  needsAttention(attention);
  return h('section', {},
    h('h1', {}, `Hello, ${data.viewer?.name ?? ''}`),
    message,
    h('p', { class: 'lead' }, `Your portal with ${business}.`),
    attention,
    h('h2', {}, 'Upcoming appointments'),
    cards(data.appointments.edges.map((e) => e.node), appointmentItem, 'No appointments coming up.'),
    h('p', {}, to('appointments', 'All appointments, upcoming and past')),
    h('h2', {}, 'Active jobs'),
    cards(data.jobs.edges.map((e) => e.node), jobItem, 'No active jobs right now.'),
    h('p', {}, to('jobs', 'All jobs')));
}

// Contracts to sign and invoices to pay, if any: a separate request, so home still shows
// when one of them cannot be loaded.
async function needsAttention(container) {
  try {
    const data = await gql(`query Attention {
      contracts(status: [SENT], first: 5) { totalCount edges { node { id title } } }
      invoices(status: [OPEN], first: 5) { totalCount edges { node { id number isOverdue amountDueCents currency } } }
    }`);
    const items = [
      ...data.contracts.edges.map(({ node }) => h('li', {}, 'Contract to sign: ', to(`contracts/${encodeURIComponent(node.id)}`, node.title))),
      ...data.invoices.edges.filter(({ node }) => node.amountDueCents > 0).map(({ node }) => h('li', {},
        `Invoice ${node.number ?? ''} to pay${node.isOverdue ? ' (overdue)' : ''}: `,
        to(`invoices/${encodeURIComponent(node.id)}`, 'View invoice'))),
    ];
    if (items.length) {
      container.replaceChildren(h('div', { class: 'attention' }, h('h2', {}, 'Needs your attention'), h('ul', {}, items)));
    }
  } catch {
    // Home works without it.
  }
}

export async function list() {
  const query = `query Appointments($range: AppointmentRange!, $after: String) {
    appointments(range: $range, first: 10, after: $after) {
      totalCount edges { node { ${APPOINTMENT} } } pageInfo { hasNextPage endCursor } } }`;
  const [upcoming, past] = await Promise.all([
    paged(query, 'appointments', { range: 'UPCOMING' }, appointmentItem, 'No appointments coming up.'),
    paged(query, 'appointments', { range: 'PAST' }, appointmentItem, 'No past appointments.'),
  ]);
  return h('section', {}, h('h1', {}, 'Appointments'),
    h('h2', {}, 'Upcoming'), upcoming, h('h2', {}, 'Past'), past);
}
