// The portal's router: the address names a page; each page is a function that loads its
// data and returns what to show. Links inside the portal change the page without a reload.

import { emailedToken } from './emailed-token.js';
import { ApiError, gql, session, subscribe } from './api.js';
import { area, base, business, h, replace, setTitle, to } from './dom.js';
import * as accounts from './pages/accounts.js';
import * as appointments from './pages/appointments.js';
import * as jobs from './pages/jobs.js';
import * as contracts from './pages/contracts.js';
import * as invoices from './pages/invoices.js';
import * as messages from './pages/messages.js';

const PUBLIC = true;
const ROUTES = {
  portal: [
    [/^accept-invite$/, accounts.acceptInvitation, PUBLIC],
    [/^reset-password$/, accounts.resetPassword, PUBLIC],
    [/^sign-in$/, accounts.signIn, PUBLIC],
    [/^forgot-password$/, accounts.forgotPassword, PUBLIC],
    [/^$/, appointments.home],
    [/^appointments$/, appointments.list],
    [/^jobs$/, jobs.list],
    [/^jobs\/([^/]+)$/, jobs.detail],
    [/^contracts$/, contracts.list],
    [/^contracts\/([^/]+)$/, contracts.detail],
    [/^invoices$/, invoices.list],
    [/^invoices\/([^/]+)$/, invoices.detail],
    [/^messages$/, messages.thread],
    [/^account$/, accounts.account],
  ],
  team: [[/^accept-invite$/, accounts.acceptTeamInvitation, PUBLIC]],
};

const NAV = [
  ['', 'Home'],
  ['jobs', 'Jobs'],
  ['contracts', 'Contracts'],
  ['invoices', 'Invoices'],
  ['messages', 'Messages'],
  ['account', 'Account'],
];

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const token = emailedToken; // kept in memory only: a refused password leaves it usable
let rendering = 0;
let flash = null;

export function navigate(path, { replace: replacing = false, message = null } = {}) {
  const url = path.startsWith('/') ? path : base + path;
  history[replacing ? 'replaceState' : 'pushState'](null, '', url);
  flash = message;
  render();
}

function currentPath() {
  const path = location.pathname;
  return path.startsWith(base) ? decodeURIComponent(path.slice(base.length)).replace(/\/$/, '') : null;
}

let leaving = [];
let rendered = false;

async function render() {
  const ticket = ++rendering;
  leaving.forEach((cleanup) => cleanup());
  leaving = [];
  const path = currentPath();
  const match = path === null ? null
    : ROUTES[area]?.map(([pattern, page, isPublic]) => [path.match(pattern), page, isPublic])
      .find(([found]) => found);
  if (!match) {
    showNav(false);
    show(ticket, notFound());
    return;
  }
  const [found, page, isPublic] = match;
  if (!isPublic && !session.token) {
    navigate('sign-in', { replace: true });
    return;
  }
  showNav(!isPublic);
  const context = {
    params: found.slice(1),
    navigate,
    emailedToken: token,
    flash,
    setUnread,
    onLeave: (cleanup) => leaving.push(cleanup),
    isCurrent: () => ticket === rendering,
  };
  flash = null;
  try {
    const view = await page(context);
    show(ticket, view);
  } catch (error) {
    if (error instanceof ApiError && error.code === 'UNAUTHENTICATED' && !isPublic) {
      session.clear();
      navigate('sign-in', { replace: true, message: 'Your session has ended. Please sign in again.' });
      return;
    }
    console.error(error);
    show(ticket, failure(error));
  }
}

function show(ticket, view) {
  if (ticket !== rendering) return; // a later navigation won
  replace(main, view);
  markCurrentLink();
  const heading = main.querySelector('h1');
  setTitle(heading?.textContent);
  // After a navigation inside the portal, move focus to the new page, so keyboard and
  // screen-reader users start at its top (a fresh load starts there anyway).
  if (rendered) {
    main.focus({ preventScroll: true });
    window.scrollTo(0, 0);
  }
  rendered = true;
}

function notFound() {
  return h('section', { class: 'narrow' }, h('h1', {}, 'Page not found'),
    h('p', {}, 'There is nothing at this address. '), to('', 'Go to your portal home'));
}

function failure(error) {
  return h('section', { class: 'narrow' }, h('h1', {}, 'Something went wrong'),
    h('p', { role: 'alert' }, error?.message || 'The page could not be loaded.'),
    h('p', {}, h('button', { type: 'button', onclick: () => render() }, 'Try again')));
}

// --- navigation -----------------------------------------------------------------------

let navBuilt = false;
let stopUnread = null;
const unreadBadge = h('span', { class: 'count', hidden: true });

function showNav(visible) {
  nav.hidden = !visible;
  if (!visible) {
    stopUnread?.();
    stopUnread = null;
    return;
  }
  if (!navBuilt) {
    navBuilt = true;
    const links = NAV.map(([path, text]) => {
      const link = to(path, text);
      link.dataset.path = path;
      if (path === 'messages') {
        link.append(' ', unreadBadge);
      }
      return h('li', {}, link);
    });
    replace(nav, h('ul', {}, links));
  }
  if (!stopUnread) watchUnread();
}

function markCurrentLink() {
  const path = currentPath() ?? '';
  const section = path.split('/')[0];
  for (const link of nav.querySelectorAll('a')) {
    if (link.dataset.path === section) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

export function setUnread(count) {
  unreadBadge.hidden = !count;
  unreadBadge.textContent = count ? String(count) : '';
  const text = count ? `${count} unread` : '';
  if (text) unreadBadge.setAttribute('aria-label', text);
}

async function refreshUnread() {
  try {
    const data = await gql('query Unread { unreadMessageCount }');
    setUnread(data.unreadMessageCount);
  } catch {
    setUnread(0);
  }
}

function watchUnread() {
  refreshUnread();
  stopUnread = subscribe(
    'subscription Arrived { messageAdded { id sender { __typename } } }', {},
    (data) => {
      if (data.messageAdded.sender.__typename !== 'Customer' && currentPath() !== 'messages') {
        refreshUnread();
      }
    },
  );
}

// Links inside the portal change the page in place; others (downloads, Stripe) behave as links.
document.addEventListener('click', (event) => {
  const link = event.target.closest?.('a[href]');
  if (!link || event.defaultPrevented || event.button !== 0 || link.target || link.hasAttribute('download')) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const url = new URL(link.href);
  if (url.origin !== location.origin || !url.pathname.startsWith(base)) return;
  event.preventDefault();
  if (url.pathname !== location.pathname || url.search !== location.search) navigate(url.pathname + url.search);
});
window.addEventListener('popstate', () => render());

document.getElementById('business-name').textContent = business;
render();
