// buildbot-www UI: local times, per-browser settings, live updates over Buildbot's websocket
// protocol, the log viewer's paging and following, and the control actions (JSON-RPC). Every
// URL is relative to the page's root.
(function () {
  "use strict";

  var pageData = {};
  try {
    pageData = JSON.parse(document.getElementById("bb-page").textContent);
  } catch (e) {
    pageData = {};
  }
  var root = pageData.root || "";
  var SETTINGS_KEY = "buildbot-www.settings";

  function absolute(relative) {
    return new URL(root + relative, window.location.href);
  }

  // ---- times ---------------------------------------------------------------------------
  function ago(seconds) {
    var s = Math.max(0, Math.round(Date.now() / 1000 - seconds));
    if (s < 60) return s + " s ago";
    if (s < 3600) return Math.floor(s / 60) + " min ago";
    if (s < 86400) return Math.floor(s / 3600) + " h ago";
    return Math.floor(s / 86400) + " days ago";
  }

  function localizeTimes(scope) {
    var times = scope.querySelectorAll("time[data-ts]");
    for (var i = 0; i < times.length; i++) {
      var ts = Number(times[i].getAttribute("data-ts"));
      if (!ts) continue;
      times[i].title = new Date(ts * 1000).toLocaleString();
      times[i].textContent = ago(ts);
    }
  }

  // ---- settings ------------------------------------------------------------------------
  function loadSettings() {
    try {
      return JSON.parse(window.localStorage.getItem(SETTINGS_KEY) || "{}") || {};
    } catch (e) {
      return {};
    }
  }

  function saveSettings(settings) {
    var text = JSON.stringify(settings);
    try {
      window.localStorage.setItem(SETTINGS_KEY, text);
    } catch (e) {
      /* storage disabled: the cookie still carries them */
    }
    writeCookie(text);
  }

  // The server renders pages with the browser's settings: mirror them into a cookie scoped
  // to the server's root path (which may sit under a proxy prefix).
  function writeCookie(text) {
    var path = absolute("").pathname;
    var value = text === "{}" ? "" : encodeURIComponent(text);
    var expiry = value ? "; max-age=31536000" : "; max-age=0";
    document.cookie = "bb_settings=" + value + "; path=" + path + expiry + "; samesite=lax";
  }

  function tomlValue(value) {
    if (typeof value === "string") return JSON.stringify(value);
    return String(value);
  }

  function initSettingsPage() {
    var form = document.getElementById("settings");
    if (!form) return;
    var defaults = JSON.parse(form.getAttribute("data-defaults") || "{}");
    var settings = loadSettings();
    var inputs = form.querySelectorAll("input[name]");

    function render() {
      var lines = ["[www.ui_default_config]"];
      var merged = {};
      Object.keys(defaults).forEach(function (k) { merged[k] = defaults[k]; });
      Object.keys(settings).forEach(function (k) { merged[k] = settings[k]; });
      Object.keys(merged).sort().forEach(function (key) {
        lines.push(JSON.stringify(key) + " = " + tomlValue(merged[key]));
      });
      document.getElementById("settings-toml").textContent = lines.join("\n") + "\n";
    }

    for (var i = 0; i < inputs.length; i++) {
      var input = inputs[i];
      var key = input.name;
      var value = key in settings ? settings[key] : defaults[key];
      if (input.getAttribute("data-kind") === "bool") input.checked = !!value;
      else input.value = value === undefined || value === null ? "" : value;
      input.addEventListener("change", function (event) {
        var target = event.target;
        var kind = target.getAttribute("data-kind");
        var v = kind === "bool" ? target.checked : kind === "int" ? Number(target.value) : target.value;
        if (kind === "int" && !isFinite(v)) return;
        if (v === defaults[target.name]) delete settings[target.name];
        else settings[target.name] = v;
        saveSettings(settings);
        render();
      });
    }
    document.getElementById("settings-reset").addEventListener("click", function () {
      settings = {};
      saveSettings(settings);
      for (var j = 0; j < inputs.length; j++) {
        var d = defaults[inputs[j].name];
        if (inputs[j].getAttribute("data-kind") === "bool") inputs[j].checked = !!d;
        else inputs[j].value = d;
      }
      render();
    });
    render();
  }

  // ---- live updates ---------------------------------------------------------------------
  var conn = document.getElementById("bb-conn");
  var onEvent = null; // set per page kind
  var lastRefresh = 0;
  var refreshTimer = null;
  var refreshing = false;

  function showConnection(text) {
    if (!conn) return;
    if (text) {
      conn.textContent = text;
      conn.hidden = false;
    } else {
      conn.hidden = true;
    }
  }

  // Re-fetches this page and swaps its main area: at most one refresh per second, however
  // many events arrive.
  function scheduleRefresh() {
    if (refreshTimer || refreshing) {
      if (refreshing) refreshTimer = refreshTimer || setTimeout(runRefresh, 1000);
      return;
    }
    var wait = Math.max(0, lastRefresh + 1000 - Date.now());
    refreshTimer = setTimeout(runRefresh, wait);
  }

  function runRefresh() {
    refreshTimer = null;
    refreshing = true;
    lastRefresh = Date.now();
    fetch(window.location.href, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text();
      })
      .then(function (text) {
        var doc = new DOMParser().parseFromString(text, "text/html");
        var fresh = doc.getElementById("bb-main");
        var main = document.getElementById("bb-main");
        if (fresh && main) {
          main.innerHTML = fresh.innerHTML;
          localizeTimes(main);
        }
        var heading = doc.getElementById("bb-heading");
        var current = document.getElementById("bb-heading");
        if (heading && current) current.innerHTML = heading.innerHTML;
        if (doc.title) document.title = doc.title;
        document.documentElement.setAttribute("data-refreshed", String(Date.now()));
      })
      .catch(function () { /* the next event or reconnect refreshes again */ })
      .then(function () { refreshing = false; });
  }

  function matchesFilter(message) {
    var filter = pageData.live_filter;
    if (!filter || !message || typeof message !== "object") return true;
    return Object.keys(filter).every(function (key) {
      return !(key in message) || message[key] === filter[key];
    });
  }

  function connect(paths) {
    var attempt = 0;
    var socket = null;
    var everOpened = false;

    function open() {
      var url = absolute("ws");
      url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
      try {
        socket = new WebSocket(url.href);
      } catch (e) {
        retry();
        return;
      }
      socket.onopen = function () {
        var wasLost = everOpened || attempt > 0;
        attempt = 0;
        everOpened = true;
        showConnection("");
        document.documentElement.setAttribute("data-ws", "open");
        paths.forEach(function (path, i) {
          socket.send(JSON.stringify({ cmd: "startConsuming", path: path, _id: i + 1 }));
        });
        if (wasLost && onEvent) onEvent(null); // catch up on what was missed
      };
      socket.onmessage = function (message) {
        var frame;
        try {
          frame = JSON.parse(message.data);
        } catch (e) {
          return;
        }
        if (frame && typeof frame.k === "string" && onEvent && matchesFilter(frame.m)) {
          onEvent(frame);
        }
      };
      socket.onclose = function () {
        socket = null;
        document.documentElement.setAttribute("data-ws", "lost");
        retry();
      };
    }

    function retry() {
      attempt += 1;
      var delay = Math.min(30, Math.pow(2, Math.min(attempt - 1, 5)));
      showConnection("connection lost, retrying in " + delay + " s");
      setTimeout(function () {
        showConnection("connection lost, retrying…");
        open();
      }, delay * 1000);
    }

    open();
  }

  // ---- log viewer ------------------------------------------------------------------------
  function initLog() {
    var pre = document.getElementById("log");
    if (!pre) return false;
    var logid = pre.getAttribute("data-logid");
    var stdio = pre.getAttribute("data-type") === "s";
    var pageSize = Number(pre.getAttribute("data-page")) || 1000;
    var next = Number(pre.getAttribute("data-next"));
    var total = Number(pre.getAttribute("data-total"));
    var complete = pre.getAttribute("data-complete") === "true";
    var more = document.getElementById("log-more");
    var follow = document.getElementById("log-follow");
    var loading = false;

    function append(content) {
      var lines = content.split("\n");
      if (lines.length && lines[lines.length - 1] === "") lines.pop();
      var fragment = document.createDocumentFragment();
      lines.forEach(function (line, index) {
        var span = document.createElement("span");
        var channel = "o";
        if (stdio) {
          channel = line.charAt(0) === "e" ? "e" : line.charAt(0) === "h" ? "h" : "o";
          line = line.substring(1);
        }
        span.className = channel;
        span.id = "L" + (next + index + 1);
        span.textContent = line;
        fragment.appendChild(span);
        fragment.appendChild(document.createTextNode("\n"));
      });
      pre.appendChild(fragment);
      next += lines.length;
    }

    function updateMore() {
      if (!more) return;
      more.hidden = next >= total;
      if (!more.hidden && more.firstChild) {
        more.firstChild.textContent = "lines " + (next + 1) + "–" + total + " load as you scroll ";
      }
    }

    function loadMore() {
      if (loading || next >= total) return Promise.resolve();
      loading = true;
      var url = absolute("api/v2/logs/" + logid + "/contents?offset=" + next + "&limit=" + pageSize);
      return fetch(url, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (body) {
          var chunk = body && body.logchunks && body.logchunks[0];
          if (chunk && chunk.firstline === next) append(chunk.content);
        })
        .catch(function () {})
        .then(function () {
          loading = false;
          updateMore();
        });
    }

    function refreshInfo() {
      return fetch(absolute("api/v2/logs/" + logid), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (body) {
          var log = body && body.logs && body.logs[0];
          if (log) {
            total = log.num_lines;
            complete = log.complete;
          }
        })
        .catch(function () {});
    }

    function tail() {
      if (!follow || !follow.checked) return;
      refreshInfo().then(function () {
        var step = function () {
          if (next < total) return loadMore().then(step);
          window.scrollTo(0, document.body.scrollHeight);
        };
        return step();
      });
    }

    if (more && "IntersectionObserver" in window) {
      new IntersectionObserver(function (entries) {
        if (entries.some(function (e) { return e.isIntersecting; })) loadMore();
      }, { rootMargin: "800px" }).observe(more);
    }
    var button = document.getElementById("log-load");
    if (button) button.addEventListener("click", loadMore);
    onEvent = function () { tail(); };
    // Follow without a websocket too: poll while the log is written.
    setInterval(function () { if (!complete) tail(); }, 3000);
    if (follow && follow.checked) tail();
    return true;
  }

  // ---- account ---------------------------------------------------------------------------
  // Logging in and out answers with Buildbot's `<buildbotURL>#/path`: the home page goes on
  // to that path, since these pages are not routed by the fragment.
  function followFragment() {
    var hash = window.location.hash;
    if (pageData.page !== "home" || hash.indexOf("#/") !== 0) return false;
    var path = decodeURIComponent(hash.slice(2));
    if (path === "" || path.indexOf("/") === 0 || path.indexOf("\\") !== -1) {
      history.replaceState(null, "", window.location.pathname + window.location.search);
      return false;
    }
    window.location.replace(absolute(path).href);
    return true;
  }

  // The login form posts in the background, so that a wrong password shows a message here
  // instead of the browser's own password dialog; a good one reloads the page, logged in.
  function initLogin() {
    var avatar = document.querySelector("#bb-account .avatar");
    if (avatar) avatar.addEventListener("error", function () { avatar.hidden = true; });
    var login = document.getElementById("bb-login");
    if (!login) return;
    if (login.getAttribute("data-autologin") === "1") {
      window.location.replace(login.href);
      return;
    }
    var form = login.querySelector("form");
    if (!form || !window.fetch) return;
    var error = form.querySelector(".account-error");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      error.hidden = true;
      fetch(form.action, {
        method: "POST",
        body: new URLSearchParams(new FormData(form)),
        credentials: "same-origin",
        redirect: "manual",
      }).then(function (response) {
        if (response.type === "opaqueredirect" || response.ok) {
          window.location.reload();
          return;
        }
        error.textContent = response.status === 401 ? "Wrong user name or password."
          : response.status === 429 ? "Too many failed logins: try again later."
          : "The login failed (" + response.status + ").";
        error.hidden = false;
      }, function () {
        error.textContent = "The server cannot be reached.";
        error.hidden = false;
      });
    });
  }

  // ---- control actions ---------------------------------------------------------------------
  // Buttons the server showed (it decides what this user may do) make Buildbot's JSON-RPC
  // calls; a refusal shows the server's own message.
  var rpcId = 0;

  function rpc(path, method, params) {
    rpcId += 1;
    return fetch(absolute("api/v2/" + path), {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", method: method, params: params, id: rpcId }),
    }).then(function (response) {
      return response.text().then(function (text) {
        var body = null;
        try {
          body = JSON.parse(text);
        } catch (e) {
          body = null;
        }
        if (response.ok && body && !body.error) return body.result;
        var error = body && body.error ? body.error : { message: text || "HTTP " + response.status };
        throw { status: response.status, code: error.code, message: error.message };
      });
    }, function () {
      throw { status: 0, message: "The server cannot be reached." };
    });
  }

  function messageText(message) {
    if (typeof message === "string") return message;
    if (message && typeof message === "object") {
      return Object.keys(message).map(function (k) { return k + ": " + message[k]; }).join("; ");
    }
    return "the action failed";
  }

  function showControlMessage(text) {
    var box = document.getElementById("bb-control-message");
    if (!box) return;
    box.textContent = text || "";
    box.hidden = !text;
  }

  function runAction(button) {
    var confirmText = button.getAttribute("data-confirm");
    if (confirmText && !window.confirm(confirmText)) return;
    button.disabled = true;
    showControlMessage("");
    rpc(button.getAttribute("data-rpc-path"), button.getAttribute("data-rpc-method"), {})
      .then(function () {
        // Counted on the document, which outlives the refreshed button (the tests wait on it).
        var html = document.documentElement;
        html.setAttribute("data-control-calls", String(Number(html.getAttribute("data-control-calls") || 0) + 1));
        scheduleRefresh();
      }, function (err) {
        showControlMessage(button.textContent + ": " + messageText(err.message));
        button.disabled = false;
      });
  }

  function readFile(input) {
    var file = input.files && input.files[0];
    if (!file) return Promise.resolve("");
    return new Promise(function (resolve, reject) {
      var reader = new FileReader();
      reader.onload = function () { resolve(String(reader.result)); };
      reader.onerror = function () { reject(new Error("cannot read " + file.name)); };
      reader.readAsText(file);
    });
  }

  // Each field's value by its fullName: checkboxes as booleans, multiple lists as arrays, files
  // read here and sent as text; fixed fields are the scheduler's own and not sent.
  function forceParams(form) {
    var params = {};
    var reads = [];
    var inputs = form.querySelectorAll("[data-fullname]");
    for (var i = 0; i < inputs.length; i++) {
      var input = inputs[i];
      var name = input.getAttribute("data-fullname");
      var type = input.getAttribute("data-type");
      if (!name || type === "fixed") continue;
      if (type === "bool") params[name] = input.checked;
      else if (type === "file") {
        reads.push(readFile(input).then(function (key) {
          return function (text) { params[key] = text; };
        }(name)));
      } else if (input.multiple && input.options) {
        params[name] = Array.prototype.filter.call(input.options, function (o) { return o.selected; })
          .map(function (o) { return o.value; });
      } else params[name] = input.value;
    }
    return Promise.all(reads).then(function () { return params; });
  }

  function submitForce(dialog, form) {
    var formError = form.querySelector(".form-error");
    var errors = form.querySelectorAll(".field-error");
    for (var i = 0; i < errors.length; i++) errors[i].hidden = true;
    formError.hidden = true;
    var submit = form.querySelector("button[type=submit]");
    var builderid = Number(dialog.getAttribute("data-builderid"));
    var path = "forceschedulers/" + encodeURIComponent(dialog.getAttribute("data-scheduler"));
    submit.disabled = true;
    forceParams(form)
      .then(function (params) {
        params.builderid = builderid;
        return rpc(path, "force", params);
      })
      .then(function () {
        window.location.assign(absolute("builders/" + builderid).href);
      }, function (err) {
        submit.disabled = false;
        var rest = {};
        if (err.code === -32602 && err.message && typeof err.message === "object") {
          Object.keys(err.message).forEach(function (key) {
            var slot = Array.prototype.filter.call(errors, function (e) {
              return e.getAttribute("data-error-for") === key;
            })[0];
            if (slot) {
              slot.textContent = String(err.message[key]);
              slot.hidden = false;
            } else rest[key] = err.message[key];
          });
          if (!Object.keys(rest).length) return;
        } else rest = err.message;
        formError.textContent = messageText(rest);
        formError.hidden = false;
      });
  }

  function initControls() {
    document.addEventListener("click", function (event) {
      var target = event.target.closest ? event.target.closest("button") : null;
      if (!target) return;
      if (target.hasAttribute("data-rpc-method")) runAction(target);
      else if (target.hasAttribute("data-dialog")) {
        var dialog = document.getElementById(target.getAttribute("data-dialog"));
        if (dialog && dialog.showModal) dialog.showModal();
      } else if (target.hasAttribute("data-close")) {
        var open = target.closest("dialog");
        if (open) open.close();
      }
    });
    var forms = document.querySelectorAll("dialog.force-dialog form");
    for (var i = 0; i < forms.length; i++) {
      forms[i].addEventListener("submit", function (event) {
        event.preventDefault();
        submitForce(event.target.closest("dialog"), event.target);
      });
    }
  }

  // ---- start -----------------------------------------------------------------------------
  if (followFragment()) return;
  initLogin();
  initControls();
  localizeTimes(document);
  initSettingsPage();
  var isLog = initLog();
  if (!isLog) onEvent = function () { scheduleRefresh(); };
  var events = pageData.events || [];
  if (events.length && "WebSocket" in window) connect(events);
  setInterval(function () { localizeTimes(document); }, 30000);
})();
