// The web chat page. No build step, no dependency: plain ES2017.
// Who is speaking is the server's HttpOnly session cookie; this script never
// sees an id. Messages wait in an outbox (localStorage) until the server has
// answered them, so nothing typed offline or before a reload is lost; each
// carries an idempotency key, so a retry is never processed twice.
(function () {
  "use strict";

  var UI = {
    vi: {
      subtitle: "Phiếu lý lịch tư pháp · VNeID", online: "Đang có mạng", offline: "Mất mạng — tin sẽ gửi khi có mạng",
      present: "Trình chiếu", menu: "Menu", label: "Tin nhắn của bạn", placeholder: "Nhập tin nhắn…", send: "Gửi",
      log: "Cuộc trò chuyện", typing: "Trợ lý đang trả lời…", join: "Mã QR: mở trợ lý trên điện thoại khác",
      bot: "Trợ lý:", me: "Bạn:", waiting: "Đang chờ mạng để gửi", sending: "Đang gửi…",
      failed: "Chưa gửi được — thử lại", retry: "Thử lại", announcement: "Thông báo", listen: "Nghe",
      stop: "Dừng", save: "Lưu ảnh QR", share: "Chia sẻ", chosen: "Đã chọn:", imageGone: "Ảnh đã hết hạn."
    },
    en: {
      subtitle: "Criminal record certificate · VNeID", online: "Online", offline: "Offline — messages will be sent when back online",
      present: "Present", menu: "Menu", label: "Your message", placeholder: "Type a message…", send: "Send",
      log: "Conversation", typing: "The assistant is replying…", join: "QR code: open the assistant on another phone",
      bot: "Assistant:", me: "You:", waiting: "Waiting for the network to send", sending: "Sending…",
      failed: "Not sent yet — try again", retry: "Try again", announcement: "Announcement", listen: "Listen",
      stop: "Stop", save: "Save QR image", share: "Share", chosen: "Chosen:", imageGone: "The picture has expired."
    }
  };
  // Icons as inline SVG paths (24x24): no emoji font is needed on the device.
  var PATHS = {
    check: "M5 12l5 5 9-10", warn: "M12 3l10 18H2zM12 10v5M12 18v.5", hand: "M7 11V6a2 2 0 014 0v5M11 10V4a2 2 0 014 0v7M15 9a2 2 0 014 0v4a8 8 0 01-8 8h-1a6 6 0 01-5-3l-2-4a2 2 0 013-2l2 2",
    lock: "M6 11h12v10H6zM8 11V8a4 4 0 018 0v3", money: "M3 6h18v12H3zM3 10h18M7 15h3", doc: "M6 3h9l4 4v14H6zM14 3v5h5M9 13h7M9 17h5",
    repeat: "M4 12a8 8 0 0114-5l2 2M20 4v5h-5M20 12a8 8 0 01-14 5l-2-2M4 20v-5h5", bell: "M6 17V11a6 6 0 0112 0v6l2 2H4zM10 21h4",
    clock: "M12 3a9 9 0 100 18 9 9 0 000-18zM12 7v5l3 3", home: "M3 11l9-8 9 8M5 10v10h14V10", trash: "M4 7h16M9 7V4h6v3M6 7l1 13h10l1-13",
    phone: "M5 3h4l2 5-3 2a11 11 0 006 6l2-3 5 2v4a2 2 0 01-2 2A17 17 0 013 5a2 2 0 012-2z", search: "M11 4a7 7 0 100 14 7 7 0 000-14zM16 16l5 5",
    globe: "M12 3a9 9 0 100 18 9 9 0 000-18zM3 12h18M12 3c3 3 3 15 0 18M12 3c-3 3-3 15 0 18", person: "M12 4a4 4 0 100 8 4 4 0 000-8zM4 21a8 8 0 0116 0",
    calc: "M6 3h12v18H6zM9 7h6M9 12h1M14 12h1M9 16h1M14 16h1", pen: "M4 20l4-1 11-11-3-3L5 16zM14 6l3 3", no: "M12 3a9 9 0 100 18 9 9 0 000-18zM6 6l12 12",
    thumbDown: "M7 4h10l3 8h-6l1 6a2 2 0 01-4 0l-4-6H4V4z", link: "M10 14a4 4 0 006 0l3-3a4 4 0 00-6-6l-1 1M14 10a4 4 0 00-6 0l-3 3a4 4 0 006 6l1-1",
    speaker: "M4 9h4l5-4v14l-5-4H4zM16 9a4 4 0 010 6M18 6a8 8 0 010 12", download: "M12 4v11M7 10l5 5 5-5M5 20h14",
    share: "M18 4a3 3 0 100 6 3 3 0 000-6zM6 9a3 3 0 100 6 3 3 0 000-6zM18 14a3 3 0 100 6 3 3 0 000-6zM8.6 10.7l6.8-3.4M8.6 13.3l6.8 3.4",
    megaphone: "M3 10v4h4l8 5V5L7 10zM18 9a4 4 0 010 6", dot: "M12 9a3 3 0 100 6 3 3 0 000-6z",
    calendar: "M4 6h16v14H4zM4 10h16M8 3v4M16 3v4", chat: "M4 5h16v11H9l-5 4z", info: "M12 3a9 9 0 100 18 9 9 0 000-18zM12 11v6M12 7.5v.5",
    image: "M3 5h18v14H3zM3 16l5-5 4 4 3-3 6 6", down: "M12 4v16M6 14l6 6 6-6"
  };
  var EMOJI_ICONS = {
    "✅": "check", "👍": "check", "⚠": "warn", "❗": "warn", "👋": "hand", "🙏": "hand", "🔒": "lock", "💰": "money",
    "💳": "money", "📄": "doc", "🔁": "repeat", "🔔": "bell", "⏰": "clock", "🏠": "home", "🗑": "trash",
    "📱": "phone", "☎": "phone", "🔎": "search", "🌐": "globe", "🤖": "person", "👮": "person", "🧮": "calc",
    "✍": "pen", "⛔": "no", "👎": "thumbDown", "🔗": "link", "📢": "megaphone", "🗓": "calendar", "📅": "calendar",
    "🙋": "person", "💬": "chat", "ℹ": "info", "🖼": "image", "👇": "down"
  };
  var EMOJI = /(\p{Extended_Pictographic})\uFE0F?/u;
  var ALL_EMOJI = /\p{Extended_Pictographic}\uFE0F?/gu;
  var SVG_NS = "http://www.w3.org/2000/svg";
  var HISTORY_LIMIT = 50;
  var RETRY_DELAYS = [1000, 2000, 4000]; // then the citizen is asked to retry
  var POLL_MS = 10000;

  var log = document.getElementById("log");
  var form = document.getElementById("form");
  var input = document.getElementById("text");
  var sendButton = document.getElementById("send");
  var typing = document.getElementById("typing");
  var net = document.getElementById("net");
  var presentButton = document.getElementById("present");
  var store = window.localStorage;
  var lang = store.getItem("troly_ui_lang") === "en" ? "en" : "vi";
  var shownIds = {};
  var outbox = readOutbox();
  var busy = false;
  var historyLoaded = false;
  var viVoice = null;

  function t(key) { return UI[lang][key]; }

  function icon(name) {
    var svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("class", "icon");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    var path = document.createElementNS(SVG_NS, "path");
    path.setAttribute("d", PATHS[name] || PATHS.dot);
    svg.appendChild(path);
    return svg;
  }

  // --- the interface's own words, in the citizen's language ------------------
  function applyLanguage(next) {
    lang = next === "en" ? "en" : "vi";
    store.setItem("troly_ui_lang", lang);
    document.documentElement.lang = lang;
    document.querySelectorAll("[data-ui]").forEach(function (el) { el.textContent = t(el.dataset.ui); });
    document.querySelectorAll("[data-ui-label]").forEach(function (el) { el.setAttribute("aria-label", t(el.dataset.uiLabel)); });
    document.querySelectorAll("[data-ui-placeholder]").forEach(function (el) { el.placeholder = t(el.dataset.uiPlaceholder); });
    document.querySelectorAll("[data-ui-alt]").forEach(function (el) { el.alt = t(el.dataset.uiAlt); });
    showNetwork();
  }

  function showNetwork() {
    var online = navigator.onLine;
    net.classList.toggle("offline", !online);
    net.textContent = t(online ? "online" : "offline");
  }

  // --- text with formatting: **bold**, links, hotlines; everything else escaped
  var TOKENS = /(\*\*[^*]+\*\*)|(https?:\/\/[^\s<>"]+[^\s<>".,;:!?)])|((?<![\w.\/-])(?:\+84|0|1[89]00)(?: ?\d){4,10}(?![\w.\/-]))/;

  function appendFormatted(parent, text) {
    var rest = text;
    while (rest) {
      var found = TOKENS.exec(rest);
      var emoji = EMOJI.exec(rest);
      if (emoji && (!found || emoji.index < found.index)) {
        appendPlain(parent, rest.slice(0, emoji.index));
        var name = EMOJI_ICONS[emoji[1]];
        if (name) parent.appendChild(icon(name));
        rest = rest.slice(emoji.index + emoji[0].length);
        continue;
      }
      if (!found) { appendPlain(parent, rest); return; }
      appendPlain(parent, rest.slice(0, found.index));
      if (found[1]) {
        var strong = document.createElement("strong");
        appendFormatted(strong, found[1].slice(2, -2));
        parent.appendChild(strong);
      } else {
        var a = document.createElement("a");
        if (found[2]) { a.href = found[2]; a.target = "_blank"; a.rel = "noopener"; }
        else a.href = "tel:" + found[3].replace(/[^\d+]/g, "");
        a.textContent = found[0];
        parent.appendChild(a);
      }
      rest = rest.slice(found.index + found[0].length);
    }
  }

  function appendPlain(parent, text) { if (text) parent.appendChild(document.createTextNode(text)); }

  function speaker(who) {
    var label = document.createElement("span");
    label.className = "sr";
    label.textContent = t(who) + " ";
    return label;
  }

  function scroll() { log.scrollTop = log.scrollHeight; }

  // --- the citizen's messages ------------------------------------------------
  function addMine(text, id) {
    // Keyboards before the citizen's own message are past: collapsed, not tappable.
    log.querySelectorAll(".keyboard:not(.used)").forEach(function (old) {
      old.classList.add("used");
      old.querySelectorAll("button").forEach(function (button) { button.disabled = true; });
    });
    var box = document.createElement("div");
    box.className = "msg me";
    box.lang = lang;
    if (id) box.dataset.key = id;
    var bubble = document.createElement("div");
    bubble.className = "bubble";
    bubble.appendChild(speaker("me"));
    appendFormatted(bubble, text);
    box.appendChild(bubble);
    log.appendChild(box);
    scroll();
    return box;
  }

  function setState(item, state) {
    var box = log.querySelector('.msg.me[data-key="' + item.id + '"]');
    if (!box) return;
    var old = box.querySelector(".state");
    if (old) old.remove();
    if (!state) return;
    var line = document.createElement("div");
    line.className = "state " + state;
    line.appendChild(icon(state === "failed" ? "warn" : "clock"));
    line.appendChild(document.createTextNode(t(state)));
    if (state === "failed") {
      var retry = document.createElement("button");
      retry.type = "button";
      retry.textContent = t("retry");
      retry.addEventListener("click", function () { item.failed = false; setState(item, "sending"); pump(); });
      line.appendChild(retry);
    }
    box.appendChild(line);
    scroll();
  }

  // --- the bot's messages ----------------------------------------------------
  function addReply(reply) {
    if (reply.id && shownIds[reply.id]) return;
    if (reply.id) shownIds[reply.id] = true;
    if (reply.from === "me") { addMine(reply.text || "", reply.key); return; }
    if (reply.lang && reply.lang !== lang) applyLanguage(reply.lang);
    var keyboard = keyboardFor(reply);
    if (!reply.text && !reply.image_url && !reply.link && !keyboard) return; // only a Menu button: the one by the text box serves
    var box = document.createElement("div");
    box.className = "msg bot" + (reply.kind === "announcement" ? " announce" : "");
    box.lang = reply.lang || lang;
    var bubble = document.createElement("div");
    bubble.className = "bubble";
    bubble.appendChild(speaker("bot"));
    if (reply.kind === "announcement") {
      var label = document.createElement("div");
      label.className = "announce-label";
      label.appendChild(icon("megaphone"));
      label.appendChild(document.createTextNode(t("announcement")));
      bubble.appendChild(label);
    }
    if (reply.image_url) bubble.appendChild(picture(reply));
    if (reply.text) appendFormatted(bubble, reply.text);
    if (reply.link && /^https?:\/\//.test(reply.link.url)) {
      var a = document.createElement("a");
      a.className = "link";
      a.href = reply.link.url;
      a.target = "_blank";
      a.rel = "noopener";
      a.appendChild(icon("link"));
      appendFormatted(a, reply.link.title);
      bubble.appendChild(a);
    }
    box.appendChild(bubble);
    var tools = toolsFor(reply);
    if (tools.childNodes.length) box.appendChild(tools);
    if (keyboard) {
      log.querySelectorAll(".keyboard:not(.used)").forEach(function (old) { old.remove(); });
      box.appendChild(keyboard);
    }
    if (reply.edit_key) {
      // Replies sharing an edit key replace each other (the guide's pages),
      // when the server sends them as edits.
      box.dataset.editKey = reply.edit_key;
      var old = log.querySelector('[data-edit-key="' + CSS.escape(reply.edit_key) + '"]');
      if (old) { old.replaceWith(box); scroll(); return; }
    }
    log.appendChild(box);
    scroll();
  }

  function picture(reply) {
    var img = document.createElement("img");
    img.src = reply.image_url;
    img.alt = reply.image_alt || "";
    img.addEventListener("load", scroll);
    img.addEventListener("error", function () {
      var gone = document.createElement("p");
      gone.textContent = (reply.image_alt ? reply.image_alt + " — " : "") + t("imageGone");
      img.replaceWith(gone);
    });
    return img;
  }

  function toolsFor(reply) {
    var tools = document.createElement("div");
    tools.className = "tools";
    if (reply.image_url && reply.link) {
      // A certificate's QR code: save it, or share it where the device can.
      var save = document.createElement("a");
      save.className = "tool save";
      save.href = reply.image_url;
      save.download = "qr-lltp.png";
      save.appendChild(icon("download"));
      save.appendChild(document.createTextNode(t("save")));
      tools.appendChild(save);
      if (navigator.share) tools.appendChild(tool("share", "share", function () { shareImage(reply); }));
    }
    if (reply.text) {
      var listen = tool("speaker", "listen", function () { speak(reply.text, listen); });
      listen.classList.add("speak");
      tools.appendChild(listen);
    }
    return tools;
  }

  function tool(iconName, key, onClick) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = "tool";
    b.appendChild(icon(iconName));
    var words = document.createElement("span");
    words.textContent = t(key);
    b.appendChild(words);
    b.addEventListener("click", onClick);
    return b;
  }

  function shareImage(reply) {
    fetch(reply.image_url).then(function (r) { return r.blob(); }).then(function (blob) {
      var file = new File([blob], "qr-lltp.png", { type: "image/png" });
      var data = { title: reply.image_alt || "QR", url: reply.link.url };
      if (navigator.canShare && navigator.canShare({ files: [file] })) data.files = [file];
      return navigator.share(data);
    }).catch(function () {});
  }

  function keyboardFor(reply) {
    var rows = (reply.rows || []).map(function (row) {
      return row.filter(function (button) { return !button.opens_menu; }); // the Menu button is always by the text box
    }).filter(function (row) { return row.length; });
    if (!rows.length) return null;
    var keyboard = document.createElement("div");
    keyboard.className = "keyboard";
    rows.forEach(function (row) {
      var line = document.createElement("div");
      line.className = "row";
      row.forEach(function (button) {
        var b = document.createElement("button");
        b.type = "button";
        appendFormatted(b, button.title);
        b.dataset.payload = button.payload;
        b.addEventListener("click", function () {
          if (keyboard.classList.contains("used")) return;
          // Used quick replies are disabled and collapse to the one chosen;
          // pages edited in place (the guide) are not echoed, as in Telegram.
          if (!reply.edit_key) {
            keyboard.classList.add("used");
            keyboard.querySelectorAll("button").forEach(function (other) { other.disabled = true; });
          }
          submit({ button: button.payload }, reply.edit_key ? null : button.title);
        });
        line.appendChild(b);
      });
      keyboard.appendChild(line);
    });
    return keyboard;
  }

  // --- read aloud, on the device only ------------------------------------------
  function findVoice() {
    if (!("speechSynthesis" in window)) return;
    viVoice = speechSynthesis.getVoices().filter(function (v) { return /^vi([-_]|$)/i.test(v.lang); })[0] || null;
    document.body.classList.toggle("can-speak", !!viVoice);
  }

  function speak(text, button) {
    if (speechSynthesis.speaking) { speechSynthesis.cancel(); return; }
    var utterance = new SpeechSynthesisUtterance(text.replace(/\*\*/g, "").replace(ALL_EMOJI, ""));
    utterance.voice = viVoice;
    utterance.lang = viVoice.lang;
    button.setAttribute("aria-pressed", "true");
    utterance.onend = utterance.onerror = function () { button.setAttribute("aria-pressed", "false"); };
    speechSynthesis.speak(utterance);
  }

  // --- the outbox: in order, retried, never twice ------------------------------
  function readOutbox() {
    try { return JSON.parse(store.getItem("troly_outbox") || "[]").filter(function (item) { return item && item.id; }); }
    catch (error) { return []; }
  }
  function saveOutbox() { store.setItem("troly_outbox", JSON.stringify(outbox.map(function (item) {
    return { id: item.id, body: item.body, echo: item.echo };
  }))); }

  function newId() {
    var bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    return "m" + Array.from(bytes, function (b) { return b.toString(16).padStart(2, "0"); }).join("");
  }

  function submit(body, echo) {
    var item = { id: newId(), body: body, echo: echo };
    outbox.push(item);
    saveOutbox();
    if (echo !== null && echo !== undefined) addMine(echo, item.id);
    setState(item, navigator.onLine ? "sending" : "waiting");
    pump();
  }

  function setBusy(value) {
    busy = value;
    sendButton.disabled = value;
    typing.hidden = !value;
  }

  function pump() {
    if (busy || !historyLoaded || !outbox.length) return;
    var item = outbox[0];
    if (item.failed) return; // waits for the citizen's "try again"; later messages keep their order
    if (!navigator.onLine) { setState(item, "waiting"); return; }
    setBusy(true);
    deliver(item, 0);
  }

  function deliver(item, attempt) {
    var body = Object.assign({ message_id: item.id, locale: navigator.language || "vi" }, item.body);
    if (item.body.button && item.echo) body.echo = item.echo.slice(0, 200); // for the history
    fetch("/api/chat", { method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json" },
                         body: JSON.stringify(body) })
      .then(function (response) {
        var type = response.headers.get("content-type") || "";
        if (response.status >= 500 || type.indexOf("application/json") < 0) throw new Error("retry");
        return response.json().then(function (data) { return { ok: response.ok, data: data }; });
      })
      .then(function (answer) {
        outbox.shift();
        saveOutbox();
        setState(item, null);
        setBusy(false);
        if (answer.ok) answer.data.replies.forEach(addReply);
        else addReply({ text: (lang === "en" ? answer.data.message_en : answer.data.message_vi) || t("failed"), lang: lang });
        pump();
      })
      .catch(function () {
        if (!navigator.onLine) { setBusy(false); setState(item, "waiting"); return; }
        if (attempt < RETRY_DELAYS.length) {
          setTimeout(function () { deliver(item, attempt + 1); }, RETRY_DELAYS[attempt]);
          return;
        }
        item.failed = true;
        setBusy(false);
        setState(item, "failed");
      });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value;
    if (!text.trim() || busy) return;
    input.value = "";
    submit({ text: text }, text);
  });

  document.getElementById("menu").addEventListener("click", function () { submit({ button: "cmd:menu" }, null); });

  presentButton.addEventListener("click", function () { setPresent(!document.documentElement.classList.contains("present")); });
  function setPresent(on) {
    document.documentElement.classList.toggle("present", on);
    presentButton.setAttribute("aria-pressed", on ? "true" : "false");
    store.setItem("troly_present", on ? "1" : "0");
  }

  window.addEventListener("online", function () {
    showNetwork();
    if (!historyLoaded) { loadHistory(); return; }
    outbox.forEach(function (item) { item.failed = false; });
    pump();
    poll();
  });
  window.addEventListener("offline", showNetwork);

  function poll() {
    if (!navigator.onLine || !historyLoaded) return; // the history brings waiting notices first
    fetch("/api/chat/updates", { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : { replies: [] }; })
      .then(function (data) { data.replies.forEach(addReply); })
      .catch(function () {});
  }

  // --- start: the history from the server, then whatever waits in the outbox --
  function restore(entries) {
    var answered = {};
    entries.slice(-HISTORY_LIMIT).forEach(function (entry) { if (entry.key) answered[entry.key] = true; addReply(entry); });
    outbox = outbox.filter(function (item) { return !answered[item.id]; });
    saveOutbox();
    outbox.forEach(function (item) {
      var shown = log.querySelector('.msg.me[data-key="' + item.id + '"]');
      if (!shown && item.echo !== null && item.echo !== undefined) addMine(item.echo, item.id);
      setState(item, navigator.onLine ? "sending" : "waiting");
    });
    if (!entries.length && !outbox.length) {
      var start = new URLSearchParams(location.search).get("start") || "";
      submit({ start: start.slice(0, 64) }, null);
    } else {
      pump();
    }
  }

  applyLanguage(lang);
  hideJoinQrWithoutAddress();
  setPresent(store.getItem("troly_present") === "1");
  findVoice();
  if ("speechSynthesis" in window) speechSynthesis.addEventListener("voiceschanged", findVoice);
  setInterval(poll, POLL_MS);
  loadHistory();

  // The server has no join QR when it listens on loopback only (no phone
  // could open the address): the header then shows no broken picture.
  function hideJoinQrWithoutAddress() {
    var join = document.getElementById("join-qr");
    var img = join && join.querySelector("img");
    if (!img) return;
    if (img.complete && img.naturalWidth === 0) join.remove();
    else img.addEventListener("error", function () { join.remove(); });
  }

  function loadHistory() {
    fetch("/api/chat/history", { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error("history");
        return response.json();
      })
      .then(function (data) { historyLoaded = true; restore(data.replies); })
      .catch(function () {
        // Offline at load: what waits in the outbox is shown; the history comes with the network.
        outbox.forEach(function (item) {
          var shown = log.querySelector('.msg.me[data-key="' + item.id + '"]');
          if (!shown && item.echo !== null && item.echo !== undefined) addMine(item.echo, item.id);
          setState(item, "waiting");
        });
        if (navigator.onLine) setTimeout(loadHistory, RETRY_DELAYS[1]);
      });
  }
})();
