// Invoices: status, amount due and overdue marks; and Pay, with Stripe's Payment Element,
// when the invoice can be paid online. The invoice shows paid once Stripe's webhook has
// told the server: the browser's word is never taken for it.

import { gql } from '../api.js';
import { badge, busy, day, h, label, meta, money, notice, replace, say, to, when } from '../dom.js';
import { cards } from './appointments.js';
import { missing } from './jobs.js';

const INVOICE = `id number status isOverdue currency subtotalCents taxCents totalCents
  amountPaidCents amountDueCents dueDate issuedAt paidAt canPayOnline
  lineItems { description quantity unitPriceCents amountCents }
  payments { id amountCents method status paidAt } job { id title }`;

function marks(i) {
  return [badge(i.status), i.isOverdue ? badge('OVERDUE') : null];
}

function invoiceItem(i) {
  return h('li', { class: 'card' },
    h('div', { class: 'card-head' }, h('h3', {}, to(`invoices/${encodeURIComponent(i.id)}`, `Invoice ${i.number ?? ''}`)), h('span', {}, marks(i))),
    h('p', { class: 'amount' }, i.amountDueCents > 0 && i.status === 'OPEN'
      ? `${money(i.amountDueCents, i.currency)} due${i.dueDate ? ` by ${day(i.dueDate)}` : ''}`
      : `${money(i.totalCents, i.currency)} total`));
}

export async function list() {
  const data = await gql(`query Invoices { invoices(first: 100) { edges { node {
    id number status isOverdue currency totalCents amountDueCents dueDate issuedAt } } } }`);
  const all = data.invoices.edges.map((e) => e.node);
  const open = all.filter((i) => i.status === 'OPEN');
  return h('section', {}, h('h1', {}, 'Invoices'),
    h('h2', {}, 'To pay'), cards(open, invoiceItem, 'Nothing to pay. Thank you!'),
    h('h2', {}, 'Paid and others'), cards(all.filter((i) => i.status !== 'OPEN'), invoiceItem, 'None yet.'));
}

async function load(id) {
  const data = await gql(`query Invoice($id: ID!) { node(id: $id) { __typename ... on Invoice { ${INVOICE} } } }`, { id });
  return data.node?.__typename === 'Invoice' ? data.node : null;
}

export async function detail({ params: [id], isCurrent }) {
  const invoice = await load(id);
  if (!invoice) return missing('invoice', 'invoices');
  const section = h('section', {});
  draw(section, invoice, isCurrent);
  return section;
}

function draw(section, i, isCurrent, announcement) {
  const status = notice('success');
  const payArea = h('div', { class: 'pay' });
  replace(section,
    h('p', { class: 'crumbs' }, to('invoices', '← All invoices')),
    h('div', { class: 'title-row' }, h('h1', {}, `Invoice ${i.number ?? ''}`), h('span', { class: 'marks' }, marks(i))),
    status,
    h('dl', { class: 'facts' },
      i.issuedAt ? [h('dt', {}, 'Issued'), h('dd', {}, when(i.issuedAt))] : null,
      i.dueDate ? [h('dt', {}, 'Due'), h('dd', {}, day(i.dueDate), i.isOverdue ? ' (overdue)' : '')] : null,
      i.paidAt ? [h('dt', {}, 'Paid'), h('dd', {}, when(i.paidAt))] : null,
      i.job ? [h('dt', {}, 'Job'), h('dd', {}, to(`jobs/${encodeURIComponent(i.job.id)}`, i.job.title))] : null),
    h('div', { class: 'table-wrap' }, h('table', { class: 'lines' },
      h('caption', { class: 'visually-hidden' }, 'Line items'),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Item'), h('th', { scope: 'col', class: 'num' }, 'Qty'),
        h('th', { scope: 'col', class: 'num' }, 'Price'), h('th', { scope: 'col', class: 'num' }, 'Amount'))),
      h('tbody', {}, i.lineItems.map((l) => h('tr', {}, h('td', {}, l.description), h('td', { class: 'num' }, l.quantity),
        h('td', { class: 'num' }, money(l.unitPriceCents, i.currency)), h('td', { class: 'num' }, money(l.amountCents, i.currency))))),
      h('tfoot', {},
        total('Subtotal', i.subtotalCents, i.currency),
        i.taxCents ? total('Tax', i.taxCents, i.currency) : null,
        total('Total', i.totalCents, i.currency),
        i.amountPaidCents ? total('Paid', -i.amountPaidCents, i.currency) : null,
        total('Amount due', i.amountDueCents, i.currency, 'due')))),
    i.payments.length ? [h('h2', {}, 'Payments'), h('ul', { class: 'plain' }, i.payments.map((p) => h('li', {},
      `${money(p.amountCents, i.currency)} by ${label(p.method)}${p.paidAt ? `, ${when(p.paidAt)}` : ''}`,
      p.status && p.status !== 'SUCCEEDED' ? [' ', badge(p.status)] : null)))] : null,
    payArea);
  if (i.status === 'OPEN' && i.amountDueCents > 0) {
    if (i.canPayOnline) {
      const pay = h('button', { type: 'button', class: 'primary' }, `Pay ${money(i.amountDueCents, i.currency)}`);
      pay.addEventListener('click', () => startPayment(section, payArea, i, isCurrent));
      payArea.append(pay);
    } else {
      payArea.append(h('p', { class: 'hint' }, 'To pay this invoice, contact us: online payment is not available for it.'));
    }
  }
  if (announcement) {
    say(status, announcement, 'success');
    section.querySelector('h1').setAttribute('tabindex', '-1');
    section.querySelector('h1').focus();
  }
}

function total(name, cents, currency, kind) {
  return h('tr', { class: kind ?? '' }, h('th', { scope: 'row', colspan: 3 }, name), h('td', { class: 'num' }, money(cents, currency)));
}

// Stripe.js, loaded once, only when someone pays.
let stripeJs = null;
function loadStripe() {
  stripeJs ??= new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = 'https://js.stripe.com/v3/';
    script.onload = () => (window.Stripe ? resolve(window.Stripe) : reject(new Error('Stripe.js did not load.')));
    script.onerror = () => { stripeJs = null; reject(new Error('The payment form could not be loaded. Check your connection and try again.')); };
    document.head.append(script);
  });
  return stripeJs;
}

async function startPayment(section, payArea, invoice, isCurrent) {
  const message = notice();
  const mount = h('div', { id: 'payment-element', class: 'payment-element' });
  const submit = h('button', { type: 'submit', class: 'primary' }, `Pay ${money(invoice.amountDueCents, invoice.currency)}`);
  const cancel = h('button', { type: 'button', onclick: () => draw(section, invoice, isCurrent) }, 'Cancel');
  const form = h('form', { class: 'stack', 'aria-label': 'Card payment' }, h('h2', {}, 'Pay by card'), message, mount, h('div', { class: 'actions' }, submit, cancel));
  payArea.replaceChildren(form);
  let stripe;
  let elements;
  try {
    await busy(form, async () => {
      const [Stripe, data] = await Promise.all([loadStripe(), gql(`mutation Pay($id: ID!) {
        payInvoice(invoiceId: $id) { clientSecret stripeAccountId amountCents currency } }`, { id: invoice.id })]);
      const intent = data.payInvoice;
      stripe = Stripe(meta('stripe-publishable-key'), { stripeAccount: intent.stripeAccountId });
      elements = stripe.elements({ clientSecret: intent.clientSecret });
      elements.create('payment').mount(mount);
    });
  } catch (error) {
    say(message, error.message, 'error');
    return;
  }
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    say(message, null);
    const result = await busy(form, () => stripe.confirmPayment({
      elements,
      redirect: 'if_required',
      confirmParams: { return_url: location.href },
    }));
    if (result.error) {
      say(message, result.error.message ?? 'The payment did not go through.', 'error');
      return;
    }
    payArea.replaceChildren(h('p', { class: 'notice notice-info', role: 'status' }, 'Payment sent. Waiting for the confirmation…'));
    waitUntilPaid(section, invoice, isCurrent);
  });
}

// The payment counts once the webhook has recorded it: ask again until the invoice says so.
async function waitUntilPaid(section, invoice, isCurrent, tries = 60) {
  for (let n = 0; n < tries && isCurrent(); n += 1) {
    await new Promise((resolve) => { setTimeout(resolve, n < 10 ? 1000 : 3000); });
    try {
      const fresh = await load(invoice.id);
      if (fresh && (fresh.status === 'PAID' || fresh.amountDueCents < invoice.amountDueCents)) {
        if (isCurrent()) draw(section, fresh, isCurrent, fresh.status === 'PAID' ? 'Thank you: the invoice is paid.' : 'Thank you: your payment was recorded.');
        return;
      }
    } catch {
      // Try again.
    }
  }
  if (isCurrent()) {
    section.querySelector('.pay')?.replaceChildren(h('p', { class: 'notice notice-info', role: 'status' },
      'Your payment is being processed. This page will show it once it is confirmed; you can reload it later.'));
  }
}
