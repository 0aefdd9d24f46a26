/* ConnectFlo chat widget: no dependencies. Embed with
 *   <script src="https://GATEWAY/widget/v1/widget.js"></script>
 *   <script>ConnectFloWidget.start({key: "wk_...", name: "Ada"});</script>
 * or, for a signed-in user, start({key, user: {external_id, user_hash, name, email}}) with the
 * user_hash computed by your backend: hex HMAC-SHA256(widget secret, external_id).
 *
 * It starts a visitor session (the gateway derives the session's signing key; the widget's
 * secret never reaches the page), signs each message with Web Crypto's HMAC-SHA256
 * (X-Widget-Signature: t=<unix seconds>,v1=<hex of HMAC(session key, t + "." + body)>), and
 * shows the replies from the conversation's event stream (EventSource, resumed by message id).
 * Web Crypto needs a secure context: https, or http on localhost / 127.0.0.1. */
(function () {
  "use strict";
  var GATEWAY = new URL(document.currentScript.src).origin;
  var encoder = new TextEncoder();

  function hex(buffer) {
    return Array.from(new Uint8Array(buffer), function (b) {
      return b.toString(16).padStart(2, "0");
    }).join("");
  }

  async function hmacHex(key, text) {
    var cryptoKey = await crypto.subtle.importKey(
      "raw", encoder.encode(key), {name: "HMAC", hash: "SHA-256"}, false, ["sign"]);
    return hex(await crypto.subtle.sign("HMAC", cryptoKey, encoder.encode(text)));
  }

  function messageId() {
    if (crypto.randomUUID) return "m-" + crypto.randomUUID();
    return "m-" + hex(crypto.getRandomValues(new Uint8Array(16)));
  }

  function load(storage, name, fallback) {
    try {
      var stored = storage.getItem(name);
      return stored ? JSON.parse(stored) : fallback;
    } catch (e) {
      return fallback;
    }
  }

  function save(storage, name, value) {
    try { storage.setItem(name, JSON.stringify(value)); } catch (e) { /* private mode */ }
  }

  var STYLE =
    ".cf-panel{position:fixed;right:20px;bottom:20px;width:340px;height:460px;display:flex;" +
    "flex-direction:column;font:14px/1.4 system-ui,sans-serif;background:#fff;border-radius:12px;" +
    "box-shadow:0 8px 30px rgba(0,0,0,.2);overflow:hidden;z-index:2147483000}" +
    ".cf-head{background:#3b5bdb;color:#fff;padding:12px 14px;font-weight:600}" +
    ".cf-status{font-weight:400;font-size:12px;opacity:.85}" +
    ".cf-log{flex:1;overflow-y:auto;padding:12px;display:flex;flex-direction:column;gap:8px;" +
    "background:#f4f5f7}" +
    ".cf-bubble{max-width:80%;padding:8px 11px;border-radius:14px;white-space:pre-wrap;" +
    "word-wrap:break-word}" +
    ".cf-visitor{align-self:flex-end;background:#3b5bdb;color:#fff}" +
    ".cf-bot{align-self:flex-start;background:#fff;color:#222;border:1px solid #e1e3e8}" +
    ".cf-failed{opacity:.6;border:1px dashed #c00}" +
    ".cf-form{display:flex;border-top:1px solid #e1e3e8}" +
    ".cf-form input{flex:1;border:0;padding:12px;font:inherit;outline:none}" +
    ".cf-form button{border:0;background:#3b5bdb;color:#fff;padding:0 16px;font:inherit;" +
    "cursor:pointer}";

  function Widget(options) {
    if (!options || !options.key) throw new Error("ConnectFloWidget.start needs {key}");
    this.options = options;
    this.key = options.key;
    this.base = (options.gateway || GATEWAY) + "/widget/v1/" + encodeURIComponent(this.key);
    this.visitorSlot = "connectflo.widget." + this.key + ".visitor";
    this.transcriptSlot = "connectflo.widget." + this.key + ".transcript";
    this.session = null;
    this.source = null;
    this.shown = {};
    this.lastReplyId = null;
  }

  Widget.prototype.render = function () {
    var root = this.options.container || document.body;
    var style = document.createElement("style");
    style.textContent = STYLE;
    document.head.appendChild(style);
    var panel = document.createElement("div");
    panel.className = "cf-panel";
    panel.setAttribute("data-connectflo", "panel");
    panel.innerHTML =
      '<div class="cf-head"><div class="cf-title"></div><div class="cf-status"' +
      ' data-connectflo="status">connecting...</div></div>' +
      '<div class="cf-log" data-connectflo="log" aria-live="polite"></div>' +
      '<form class="cf-form"><input data-connectflo="input" placeholder="Write a message..."' +
      ' autocomplete="off" maxlength="4000"><button data-connectflo="send" type="submit">Send' +
      "</button></form>";
    panel.querySelector(".cf-title").textContent = this.options.title || "Chat with us";
    root.appendChild(panel);
    this.log = panel.querySelector("[data-connectflo=log]");
    this.status = panel.querySelector("[data-connectflo=status]");
    this.input = panel.querySelector("[data-connectflo=input]");
    var self = this;
    panel.querySelector("form").addEventListener("submit", function (event) {
      event.preventDefault();
      var text = self.input.value.trim();
      if (text) {
        self.input.value = "";
        self.send(text);
      }
    });
  };

  Widget.prototype.bubble = function (who, text, id) {
    if (id && this.shown[id]) return null;
    if (id) this.shown[id] = true;
    var bubble = document.createElement("div");
    bubble.className = "cf-bubble cf-" + who;
    bubble.setAttribute("data-connectflo", who);
    bubble.textContent = text;
    this.log.appendChild(bubble);
    this.log.scrollTop = this.log.scrollHeight;
    return bubble;
  };

  Widget.prototype.remember = function (who, text, id) {
    var transcript = load(sessionStorage, this.transcriptSlot, []);
    transcript.push({who: who, text: text, id: id});
    save(sessionStorage, this.transcriptSlot, transcript.slice(-200));
  };

  Widget.prototype.restore = function () {
    var self = this;
    load(sessionStorage, this.transcriptSlot, []).forEach(function (item) {
      self.bubble(item.who, item.text, item.id);
      if (item.who === "bot") self.lastReplyId = item.id;
    });
  };

  Widget.prototype.post = async function (path, payload, signed) {
    var body = payload === null ? "" : JSON.stringify(payload);
    var headers = {"Content-Type": "application/json"};
    if (signed) {
      var t = Math.floor(Date.now() / 1000);
      headers["X-Widget-Session"] = this.session.session_id;
      headers["X-Widget-Signature"] =
        "t=" + t + ",v1=" + (await hmacHex(this.session.session_key, t + "." + body));
    }
    var response = await fetch(this.base + path, {method: "POST", headers: headers, body: body});
    var answer = await response.json().catch(function () { return {}; });
    if (!response.ok) {
      var error = new Error(answer.detail || "HTTP " + response.status);
      error.status = response.status;
      throw error;
    }
    return answer;
  };

  Widget.prototype.startSession = async function () {
    var start = {};
    if (this.options.user) {
      start.user = this.options.user;
    } else {
      var visitor = load(localStorage, this.visitorSlot, null);
      if (visitor) {
        start.visitor_id = visitor.visitor_id;
        start.visitor_token = visitor.visitor_token;
      }
      if (this.options.name) start.name = this.options.name;
      if (this.options.email) start.email = this.options.email;
    }
    try {
      this.session = await this.post("/sessions", start, false);
    } catch (error) {
      if (error.status !== 403 || !start.visitor_id) throw error;
      localStorage.removeItem(this.visitorSlot); // the secret was rotated: a new visitor
      return this.startSession();
    }
    if (this.session.visitor_token) {
      save(localStorage, this.visitorSlot, {
        visitor_id: this.session.visitor_id, visitor_token: this.session.visitor_token});
    }
    this.connect(this.session.events_url);
  };

  Widget.prototype.connect = function (eventsUrl) {
    var self = this;
    if (this.source) this.source.close();
    var url = eventsUrl;
    if (this.lastReplyId) url += "&last_event_id=" + encodeURIComponent(this.lastReplyId);
    var source = (this.source = new EventSource(url));
    source.addEventListener("open", function () { self.status.textContent = "online"; });
    source.addEventListener("reply", function (event) {
      var reply = JSON.parse(event.data);
      self.lastReplyId = reply.id;
      if (self.bubble("bot", reply.text, reply.id)) self.remember("bot", reply.text, reply.id);
    });
    source.addEventListener("error", function () {
      if (source.readyState !== EventSource.CLOSED) {
        self.status.textContent = "reconnecting..."; // EventSource retries with Last-Event-ID
        return;
      }
      self.status.textContent = "reconnecting...";
      setTimeout(function () { self.reconnect(); }, 1000);
    });
  };

  Widget.prototype.reconnect = async function () {
    try {
      var fresh = await this.post("/stream-tokens", null, true);
      this.connect(fresh.events_url);
    } catch (error) {
      if (error.status === 403) return this.startSession(); // the session expired
      this.status.textContent = "offline";
      var self = this;
      setTimeout(function () { self.reconnect(); }, 5000);
    }
  };

  Widget.prototype.send = async function (text) {
    var id = messageId();
    var bubble = this.bubble("visitor", text, id);
    this.remember("visitor", text, id);
    var message = {client_message_id: id, text: text, metadata: {page: location.href}};
    try {
      if (!this.session) throw new Error("not connected");
      try {
        await this.post("/messages", message, true);
      } catch (error) {
        if (error.status !== 403) throw error;
        await this.startSession(); // the session expired: sign again with a new one
        await this.post("/messages", message, true);
      }
    } catch (error) {
      bubble.classList.add("cf-failed");
      bubble.title = "not sent: " + error.message;
    }
  };

  Widget.prototype.start = async function () {
    this.render();
    this.restore();
    try {
      await this.startSession();
    } catch (error) {
      this.status.textContent = "unavailable: " + error.message;
    }
    return this;
  };

  window.ConnectFloWidget = {
    start: function (options) {
      var widget = new Widget(options);
      window.ConnectFloWidget.instance = widget;
      return widget.start();
    },
  };
})();
