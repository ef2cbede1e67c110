// The portal's one way to the API: GraphQL over HTTP with the session's bearer token, and
// subscriptions over graphql-ws. The token lives in sessionStorage, never in a cookie: a
// request from another site cannot carry it, so none can be forged.

import { createClient } from '../vendor/graphql-ws/client.js';
import { area, slug } from './dom.js';

const KEY = `portal-session:${area}:${slug}`;

export const session = {
  get token() {
    return sessionStorage.getItem(KEY);
  },
  set(token) {
    sessionStorage.setItem(KEY, token);
  },
  clear() {
    sessionStorage.removeItem(KEY);
    closeLive();
  },
};

export class ApiError extends Error {
  constructor(message, code, extensions = {}) {
    super(message);
    this.code = code;
    this.field = extensions.field;
    this.retryAfter = extensions.retryAfter;
  }
}

export async function gql(query, variables = {}) {
  const headers = {
    'Content-Type': 'application/json',
    Accept: 'application/graphql-response+json, application/json',
  };
  const token = session.token;
  if (token) headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch('/graphql', {
      method: 'POST', headers, body: JSON.stringify({ query, variables }), credentials: 'omit', cache: 'no-store',
    });
  } catch {
    throw new ApiError('The connection failed. Check your network and try again.', 'NETWORK');
  }
  let body;
  try {
    body = await response.json();
  } catch {
    throw new ApiError(`The server answered with an error (${response.status}). Try again in a moment.`, 'HTTP');
  }
  if (body.errors?.length) {
    const [error] = body.errors;
    const extensions = error.extensions ?? {};
    throw new ApiError(error.message, extensions.code, extensions);
  }
  return body.data;
}

// One WebSocket for the signed-in session, opened on the first subscription.
let client = null;

function live() {
  if (!client) {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    client = createClient({
      url: `${scheme}://${location.host}/graphql`,
      connectionParams: () => ({ Authorization: `Bearer ${session.token}` }),
      lazy: true,
      retryAttempts: 20,
      shouldRetry: () => Boolean(session.token),
    });
  }
  return client;
}

// Calls `onData(data)` for each event until the returned function is called.
export function subscribe(query, variables, onData, onError = () => {}) {
  if (!session.token) return () => {};
  return live().subscribe({ query, variables }, {
    next: (result) => (result.errors ? onError(result.errors) : onData(result.data)),
    error: onError,
    complete: () => {},
  });
}

export function closeLive() {
  client?.dispose();
  client = null;
}
