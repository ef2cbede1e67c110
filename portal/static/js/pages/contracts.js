// Contracts: read one, sign it (typed name and "I agree"), then download the signed copy.

import { gql } from '../api.js';
import { badge, busy, field, h, notice, replace, say, showFieldError, to, when } from '../dom.js';
import { cards } from './appointments.js';
import { missing } from './jobs.js';

const CONTRACT = `id title body status sentAt signedAt documentSha256 signedDocumentUrl
  signature { signerName signedAt } job { id title }`;

function contractItem(c) {
  return h('li', { class: 'card' },
    h('div', { class: 'card-head' }, h('h3', {}, to(`contracts/${encodeURIComponent(c.id)}`, c.title)), badge(c.status === 'SENT' ? 'TO_SIGN' : c.status, c.status.toLowerCase())),
    c.signedAt ? h('p', { class: 'when' }, `Signed ${when(c.signedAt)}`) : h('p', { class: 'when' }, c.sentAt ? `Sent ${when(c.sentAt)}` : ''));
}

export async function list() {
  const data = await gql(`query Contracts { contracts(first: 100) { edges { node { id title status sentAt signedAt } } } }`);
  const all = data.contracts.edges.map((e) => e.node);
  return h('section', {}, h('h1', {}, 'Contracts'),
    h('h2', {}, 'To sign'), cards(all.filter((c) => c.status === 'SENT'), contractItem, 'Nothing to sign.'),
    h('h2', {}, 'Signed and others'), cards(all.filter((c) => c.status !== 'SENT'), contractItem, 'None yet.'));
}

export async function detail({ params: [id] }) {
  const data = await gql(`query Contract($id: ID!) { node(id: $id) { __typename ... on Contract { ${CONTRACT} } } }`, { id });
  const contract = data.node?.__typename === 'Contract' ? data.node : null;
  if (!contract) return missing('contract', 'contracts');
  const section = h('section', {});
  draw(section, contract);
  return section;
}

function draw(section, c, announcement) {
  const status = notice('success');
  replace(section,
    h('p', { class: 'crumbs' }, to('contracts', '← All contracts')),
    h('div', { class: 'title-row' }, h('h1', {}, c.title), badge(c.status === 'SENT' ? 'TO_SIGN' : c.status, c.status.toLowerCase())),
    status,
    c.job ? h('p', {}, 'For the job ', to(`jobs/${encodeURIComponent(c.job.id)}`, c.job.title)) : null,
    h('article', { class: 'document', 'aria-label': 'Contract text' }, h('div', { class: 'body-text' }, c.body)),
    c.status === 'SENT' ? signForm(section, c) : null,
    c.status === 'SIGNED' ? signed(c) : null,
    c.status === 'VOID' ? h('p', { class: 'notice notice-info' }, 'This contract was withdrawn and no longer applies.') : null);
  if (announcement) {
    say(status, announcement, 'success');
    section.querySelector('h1').setAttribute('tabindex', '-1');
    section.querySelector('h1').focus();
  }
}

function signed(c) {
  return h('div', { class: 'signed' },
    h('h2', {}, 'Signed'),
    h('p', {}, `Signed by ${c.signature?.signerName ?? ''} on ${when(c.signature?.signedAt ?? c.signedAt)}.`),
    c.signedDocumentUrl
      ? h('p', {}, h('a', { href: c.signedDocumentUrl, class: 'button', download: '', rel: 'noopener' }, 'Download the signed copy'))
      : null,
    c.documentSha256 ? h('p', { class: 'hint fingerprint' }, `Document fingerprint (SHA-256): ${c.documentSha256}`) : null);
}

function signForm(section, c) {
  const name = field('Type your full name to sign', { type: 'text', name: 'signerName', autocomplete: 'name', required: true });
  const agreed = h('input', { type: 'checkbox', id: 'agree', name: 'agreed', required: true });
  const agreedError = h('p', { class: 'field-error', id: 'agree-error' });
  agreed.setAttribute('aria-describedby', 'agree-error');
  const message = notice();
  const form = h('form', { class: 'stack sign', novalidate: true }, h('h2', {}, 'Sign this contract'), message, name.wrapper,
    h('div', { class: 'check' }, agreed, h('label', { for: 'agree' }, 'I have read this contract and I agree to it.')), agreedError,
    h('button', { type: 'submit', class: 'primary' }, 'Sign the contract'));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    showFieldError(name, null);
    agreedError.textContent = '';
    say(message, null);
    if (!name.input.value.trim()) {
      showFieldError(name, 'Type your name to sign.');
      name.input.focus();
      return;
    }
    if (!agreed.checked) {
      agreedError.textContent = 'Tick the box to agree before signing.';
      agreed.focus();
      return;
    }
    try {
      const data = await busy(form, () => gql(`mutation Sign($input: SignContractInput!) { signContract(input: $input) { ${CONTRACT} } }`,
        { input: { contractId: c.id, signerName: name.input.value.trim(), agreed: true } }));
      draw(section, data.signContract, 'Thank you: the contract is signed. You can download your copy below.');
    } catch (error) {
      if (error.field === 'signerName') showFieldError(name, error.message);
      else say(message, error.message, 'error');
    }
  });
  return form;
}
