// Imported first: an emailed token is read from the address and removed from it at once,
// so it is neither kept in the history nor shown over someone's shoulder. (The page is also
// served with Referrer-Policy: no-referrer, so it never leaves in a Referer header.)
const params = new URLSearchParams(location.search);
export const emailedToken = params.get('token');
if (params.has('token')) {
  params.delete('token');
  const query = params.toString();
  history.replaceState(history.state, '', location.pathname + (query ? `?${query}` : '') + location.hash);
}
