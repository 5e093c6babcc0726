// A sign-in link (`rudderhook dev` prints one) carries the token after #, which never reaches a server
// or its logs: fill it in and sign in.
(function () {
  'use strict';
  var m = /^#token=(.+)$/.exec(window.location.hash);
  if (!m) return;
  var input = document.getElementById('token');
  input.value = decodeURIComponent(m[1]);
  history.replaceState(null, '', window.location.pathname + window.location.search);
  document.getElementById('login-form').submit();
})();
