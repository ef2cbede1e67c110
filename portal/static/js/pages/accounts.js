// Signing up from an invitation, signing in, forgotten and reset passwords, and the
// account page (change password, sign out).

import { ApiError, gql, session } from '../api.js';
import { business, busy, field, h, notice, say, showFieldError, slug, to } from '../dom.js';

const AUTH = 'token viewer { __typename ... on Customer { name } ... on StaffMember { name } }';

function page(title, intro, ...content) {
  return h('section', { class: 'narrow' }, h('h1', {}, title), intro ? h('p', { class: 'lead' }, intro) : null, ...content);
}

// Shows an API error next to its field when it names one, else in the form's notice.
function showError(error, fields, message) {
  const target = error instanceof ApiError && error.field ? fields[error.field] : null;
  if (target) {
    showFieldError(target, error.message);
    target.input.focus();
  } else if (error instanceof ApiError && error.code === 'RATE_LIMITED' && error.retryAfter) {
    say(message, `Too many attempts. Try again in ${Math.ceil(error.retryAfter / 60)} minute(s).`, 'error');
  } else {
    say(message, error.message, 'error');
  }
}

function clearErrors(fields, message) {
  Object.values(fields).forEach((f) => showFieldError(f, null));
  say(message, null);
}

function newPasswordFields() {
  const password = field('New password', {
    type: 'password', name: 'password', autocomplete: 'new-password', required: true, minlength: 10,
  }, 'At least 10 characters. A few unrelated words are easy to remember and hard to guess.');
  const confirm = field('Repeat the new password', {
    type: 'password', name: 'confirm', autocomplete: 'new-password', required: true,
  });
  return { password, confirm };
}

function passwordsMatch({ password, confirm }) {
  if (password.input.value !== confirm.input.value) {
    showFieldError(confirm, 'The two passwords are not the same.');
    confirm.input.focus();
    return false;
  }
  return true;
}

function missingLink(what) {
  return page('This link has no token', null,
    h('p', {}, `Open the ${what} link from your email again. For your security the link's code is removed from the address once read, so reloading this page does not work.`),
    h('p', {}, to('sign-in', 'Go to sign in')));
}

export function acceptInvitation({ emailedToken, navigate }) {
  if (!emailedToken) return missingLink('invitation');
  const fields = newPasswordFields();
  const message = notice();
  const form = h('form', { class: 'stack', novalidate: true }, message, fields.password.wrapper, fields.confirm.wrapper,
    h('button', { type: 'submit', class: 'primary' }, 'Set password and open my portal'));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(fields, message);
    if (!passwordsMatch(fields)) return;
    try {
      const data = await busy(form, () => gql(`mutation Accept($input: AcceptPortalInvitationInput!) {
        acceptPortalInvitation(input: $input) { ${AUTH} } }`,
      { input: { token: emailedToken, password: fields.password.input.value } }));
      session.set(data.acceptPortalInvitation.token);
      navigate('', { replace: true, message: 'Welcome! Your portal is ready.' });
    } catch (error) {
      showError(error, { password: fields.password }, message);
    }
  });
  return page(`Welcome to ${business}`,
    `${business} invited you to your customer portal. Choose a password to get started.`, form);
}

export function resetPassword({ emailedToken, navigate }) {
  if (!emailedToken) return missingLink('password reset');
  const fields = newPasswordFields();
  const message = notice();
  const form = h('form', { class: 'stack', novalidate: true }, message, fields.password.wrapper, fields.confirm.wrapper,
    h('button', { type: 'submit', class: 'primary' }, 'Save the new password'));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(fields, message);
    if (!passwordsMatch(fields)) return;
    try {
      const data = await busy(form, () => gql(`mutation Reset($input: ResetPasswordInput!) {
        resetPassword(input: $input) { ${AUTH} } }`,
      { input: { token: emailedToken, newPassword: fields.password.input.value } }));
      session.set(data.resetPassword.token);
      navigate('', { replace: true, message: 'Your password has been changed.' });
    } catch (error) {
      showError(error, { newPassword: fields.password }, message);
    }
  });
  return page('Choose a new password', null, form);
}

export function signIn({ navigate, flash }) {
  if (session.token) {
    navigate('', { replace: true });
    return h('p', {}, 'Signing in…');
  }
  const email = field('Email', { type: 'email', name: 'email', autocomplete: 'email', required: true, inputmode: 'email' });
  const password = field('Password', { type: 'password', name: 'password', autocomplete: 'current-password', required: true });
  const message = notice();
  if (flash) say(message, flash, 'info');
  const form = h('form', { class: 'stack' }, message, email.wrapper, password.wrapper,
    h('button', { type: 'submit', class: 'primary' }, 'Sign in'));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    say(message, null);
    try {
      const data = await busy(form, () => gql(`mutation SignIn($input: PortalLogInInput!) {
        portalLogIn(input: $input) { ${AUTH} } }`,
      { input: { businessSlug: slug, email: email.input.value.trim(), password: password.input.value } }));
      session.set(data.portalLogIn.token);
      navigate('', { replace: true });
    } catch (error) {
      showError(error, {}, message);
      password.input.value = '';
      password.input.focus();
    }
  });
  return page('Sign in', `Your ${business} customer portal.`, form,
    h('p', {}, to('forgot-password', 'Forgot your password?')),
    h('p', { class: 'hint' }, `New here? Use the invitation link ${business} emailed you.`));
}

export function forgotPassword() {
  const email = field('Email', { type: 'email', name: 'email', autocomplete: 'email', required: true, inputmode: 'email' });
  const message = notice();
  const form = h('form', { class: 'stack' }, message, email.wrapper,
    h('button', { type: 'submit', class: 'primary' }, 'Email me a reset link'));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    say(message, null);
    try {
      await busy(form, () => gql(`mutation Forgot($input: RequestPasswordResetInput!) {
        requestPasswordReset(input: $input) }`, { input: { businessSlug: slug, email: email.input.value.trim() } }));
      say(message, 'If that address has a portal account, a reset link is on its way. It works once, for an hour.', 'success');
      form.reset();
    } catch (error) {
      showError(error, {}, message);
    }
  });
  return page('Forgot your password?', 'Enter the email address your invitation was sent to.', form,
    h('p', {}, to('sign-in', 'Back to sign in')));
}

export async function account({ navigate }) {
  const data = await gql('query Me { viewer { ... on Customer { name email phone address } } }');
  const me = data.viewer ?? {};
  const current = field('Current password', { type: 'password', autocomplete: 'current-password', required: true });
  const fields = newPasswordFields();
  const message = notice();
  const form = h('form', { class: 'stack' }, message, current.wrapper, fields.password.wrapper, fields.confirm.wrapper,
    h('button', { type: 'submit', class: 'primary' }, 'Change password'));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors({ current, ...fields }, message);
    if (!passwordsMatch(fields)) return;
    try {
      await busy(form, () => gql(`mutation Change($input: ChangePasswordInput!) { changePassword(input: $input) }`,
        { input: { currentPassword: current.input.value, newPassword: fields.password.input.value } }));
      form.reset();
      say(message, 'Your password has been changed. Other devices have been signed out.', 'success');
    } catch (error) {
      showError(error, { currentPassword: current, newPassword: fields.password }, message);
    }
  });
  const signOut = async (everywhere) => {
    try {
      await gql(everywhere ? 'mutation { logOutEverywhere }' : 'mutation { logOut }');
    } catch {
      // Signed out either way: the token is forgotten below.
    }
    session.clear();
    navigate('sign-in', { replace: true, message: everywhere ? 'You are signed out on every device.' : 'You are signed out.' });
  };
  return h('section', { class: 'narrow' },
    h('h1', {}, 'Your account'),
    h('dl', { class: 'facts' },
      h('dt', {}, 'Name'), h('dd', {}, me.name ?? ''),
      h('dt', {}, 'Email'), h('dd', {}, me.email ?? ''),
      me.phone ? [h('dt', {}, 'Phone'), h('dd', {}, me.phone)] : null,
      me.address ? [h('dt', {}, 'Address'), h('dd', {}, me.address)] : null),
    h('p', { class: 'hint' }, `To change these details, send ${business} a message.`),
    h('h2', {}, 'Change password'), form,
    h('h2', {}, 'Sign out'),
    h('div', { class: 'actions' },
      h('button', { type: 'button', onclick: () => signOut(false) }, 'Sign out'),
      h('button', { type: 'button', onclick: () => signOut(true) }, 'Sign out on every device')));
}

export function acceptTeamInvitation({ emailedToken }) {
  if (!emailedToken) return missingLink('invitation');
  const fields = newPasswordFields();
  const message = notice();
  const form = h('form', { class: 'stack', novalidate: true }, message, fields.password.wrapper, fields.confirm.wrapper,
    h('button', { type: 'submit', class: 'primary' }, 'Join the team'));
  const view = page(`Join ${business}`, `You have been invited to join the ${business} team. Choose a password to accept.`, form);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(fields, message);
    if (!passwordsMatch(fields)) return;
    try {
      const data = await busy(form, () => gql(`mutation AcceptStaff($input: AcceptStaffInvitationInput!) {
        acceptStaffInvitation(input: $input) { ${AUTH} } }`,
      { input: { token: emailedToken, password: fields.password.input.value } }));
      const name = data.acceptStaffInvitation.viewer.name;
      view.replaceChildren(h('h1', {}, `Welcome to the team, ${name}`),
        h('p', { role: 'status' }, `Your account at ${business} is ready. Sign in with your email and this password in your team's app.`));
      view.querySelector('h1').setAttribute('tabindex', '-1');
      view.querySelector('h1').focus();
    } catch (error) {
      showError(error, { password: fields.password }, message);
    }
  });
  return view;
}
