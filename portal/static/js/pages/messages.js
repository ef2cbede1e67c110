// Messages with the team: the newest page of the thread, earlier ones on demand, and new
// ones arriving live over graphql-ws while the page is open.

import { gql, subscribe } from '../api.js';
import { busy, business, h, notice, say, to, when } from '../dom.js';

const MESSAGE = `id body createdAt readAt job { id title }
  sender { __typename ... on StaffMember { name } ... on Customer { name } }`;

function messageItem(m) {
  const mine = m.sender?.__typename === 'Customer';
  return h('li', { class: `message ${mine ? 'mine' : 'theirs'}`, 'data-id': m.id },
    h('p', { class: 'meta' }, h('span', { class: 'who' }, mine ? 'You' : `${m.sender?.name ?? business}`), ' · ',
      h('time', { datetime: m.createdAt }, when(m.createdAt))),
    m.job ? h('p', { class: 'hint' }, 'About ', to(`jobs/${encodeURIComponent(m.job.id)}`, m.job.title)) : null,
    h('p', { class: 'body-text' }, m.body));
}

export async function thread({ isCurrent, setUnread, onLeave }) {
  const data = await gql(`query Thread { messages(last: 30) {
    edges { node { ${MESSAGE} } } pageInfo { hasPreviousPage startCursor } } }`);
  const seen = new Set();
  const ol = h('ol', { class: 'messages', 'aria-live': 'polite', 'aria-relevant': 'additions', 'aria-label': 'Conversation' });
  const add = (m, atStart = false) => {
    if (seen.has(m.id)) return;
    seen.add(m.id);
    const item = messageItem(m);
    if (atStart) ol.prepend(item); else ol.append(item);
  };
  data.messages.edges.forEach((e) => add(e.node));
  const earlier = h('button', { type: 'button', class: 'more' }, 'Show earlier messages');
  let cursor = data.messages.pageInfo.startCursor;
  earlier.hidden = !data.messages.pageInfo.hasPreviousPage;
  earlier.addEventListener('click', async () => {
    const page = await gql(`query Earlier($before: String) { messages(last: 30, before: $before) {
      edges { node { ${MESSAGE} } } pageInfo { hasPreviousPage startCursor } } }`, { before: cursor });
    [...page.messages.edges].reverse().forEach((e) => add(e.node, true));
    cursor = page.messages.pageInfo.startCursor;
    earlier.hidden = !page.messages.pageInfo.hasPreviousPage;
  });

  const markRead = () => gql('mutation Read { markMessagesRead(input: {}) }').then(() => setUnread(0)).catch(() => {});
  markRead();

  const stop = subscribe(`subscription Live { messageAdded { ${MESSAGE} } }`, {}, (event) => {
    if (!isCurrent() || !ol.isConnected) {
      stop();
      return;
    }
    add(event.messageAdded);
    ol.lastElementChild?.scrollIntoView({ block: 'nearest' });
    if (event.messageAdded.sender?.__typename !== 'Customer') markRead();
  });

  onLeave(stop);

  const body = h('textarea', { id: 'message-body', name: 'body', rows: 3, required: true, maxlength: 5000 });
  const message = notice();
  const form = h('form', { class: 'stack compose' }, message,
    h('label', { for: 'message-body' }, `Message to ${business}`), body,
    h('button', { type: 'submit', class: 'primary' }, 'Send'));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    say(message, null);
    const text = body.value.trim();
    if (!text) return;
    try {
      const sent = await busy(form, () => gql(`mutation Send($input: SendMessageInput!) { sendMessage(input: $input) { ${MESSAGE} } }`,
        { input: { body: text } }));
      add(sent.sendMessage);
      body.value = '';
      body.focus();
    } catch (error) {
      say(message, error.message, 'error');
    }
  });

  return h('section', { class: 'thread' }, h('h1', {}, 'Messages'),
    h('p', { class: 'lead' }, `Your conversation with the ${business} team.`),
    earlier,
    seen.size ? null : h('p', { class: 'empty' }, 'No messages yet. Write the first one below.'),
    ol, form);
}
