// The sandbox unified-login SPA: parameters live in the fragment, #/portal-login?ind=UNOP&appId=…
(function () {
  var error = document.getElementById('error');
  var form = document.getElementById('login-form');
  function fail(message) {
    error.textContent = message;
  }
  var hash = location.hash || '';
  var match = /^#\/portal-login\?(.*)$/.exec(hash);
  var params = new URLSearchParams(match ? match[1] : '');
  var appId = params.get('appId');
  if (!match || params.get('ind') !== 'UNOP')
    return fail('缺少参数 ind=UNOP / Missing ind=UNOP in the login address.');
  if (!appId) return fail('缺少参数 appId / Missing appId in the login address.');

  fetch('/unified-login/api/app?appId=' + encodeURIComponent(appId))
    .then(function (r) {
      if (r.status === 404) throw new Error('应用不存在 / Unknown application (appId ' + appId + ').');
      return r.json();
    })
    .then(function (app) {
      document.getElementById('app-name').textContent = app.name;
      return fetch('/unified-login/api/sso?appId=' + encodeURIComponent(appId), {
        credentials: 'same-origin',
      });
    })
    .then(function (r) {
      if (r.status === 200)
        return r.json().then(function (b) {
          location.assign(b.redirect);
        });
      form.hidden = false;
      document.getElementById('username').focus();
    })
    .catch(function (e) {
      fail(e.message);
    });

  form.addEventListener('submit', function (event) {
    event.preventDefault();
    fail('');
    fetch('/unified-login/api/login', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        appId: appId,
        username: document.getElementById('username').value,
        password: document.getElementById('password').value,
      }),
    })
      .then(function (r) {
        return r.json().then(function (b) {
          if (!r.ok) throw new Error(b.message);
          location.assign(b.redirect);
        });
      })
      .catch(function (e) {
        fail(e.message);
      });
  });
})();
