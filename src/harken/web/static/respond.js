// Harken respondent page: sends answers through the JSON channel and renders replies.
// Plain JavaScript, no build step. Text is always inserted with textContent (never innerHTML).
(function () {
  "use strict";
  var app = document.getElementById("app");
  if (!app) { return; }
  var token = app.dataset.token;
  var api = "/v1/respond/" + encodeURIComponent(token);
  var list = document.getElementById("messages");
  var form = document.getElementById("composer");
  var input = document.getElementById("answer");
  var send = document.getElementById("send");
  var endButton = document.getElementById("end");
  var thinking = document.getElementById("thinking");
  var notice = document.getElementById("notice");
  var progress = document.getElementById("progress");
  var progressText = document.getElementById("progress-text");
  var closing = document.getElementById("closing");
  var closingText = document.getElementById("closing-text");
  var welcome = document.getElementById("welcome");
  var start = document.getElementById("start");
  var chat = document.getElementById("chat");
  var busy = false;

  function scrollDown() { window.scrollTo(0, document.body.scrollHeight); }

  function addMessage(speaker, text) {
    var item = document.createElement("li");
    item.className = "msg " + (speaker === "participant" ? "participant" : "agent");
    var who = document.createElement("span");
    who.className = "who";
    who.textContent = speaker === "participant" ? app.dataset.you : app.dataset.interviewer;
    var body = document.createElement("p");
    body.textContent = text;
    item.appendChild(who);
    item.appendChild(body);
    list.appendChild(item);
    scrollDown();
  }

  function setProgress(value) {
    var percent = Math.round(Math.max(0, Math.min(1, value)) * 100);
    progress.value = percent;
    progressText.textContent = percent + "%";
  }

  function showNotice(text) {
    notice.textContent = text || "";
    notice.hidden = !text;
  }

  function finish(text) {
    form.hidden = true;
    if (welcome) { welcome.hidden = true; }
    if (text && !closingText.textContent) { closingText.textContent = text; }
    closing.hidden = false;
    app.dataset.status = "completed";
    setProgress(1);
    scrollDown();
  }

  function setBusy(value) {
    busy = value;
    send.disabled = value;
    endButton.disabled = value;
    thinking.hidden = !value;
  }

  function handle(response) {
    return response.json().then(function (body) {
      if (!response.ok) {
        var detail = typeof body.detail === "string" ? body.detail : app.dataset.error;
        showNotice(detail);
        if (response.status === 409) { form.hidden = true; }
        return;
      }
      showNotice("");
      setProgress(body.progress);
      if (body.reply) { addMessage("agent", body.reply.text); }
      if (body.status === "completed") { finish(body.reply ? body.reply.text : ""); }
    });
  }

  function post(path, payload) {
    setBusy(true);
    return fetch(api + path, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(payload || {}),
      credentials: "omit",
      referrerPolicy: "no-referrer"
    }).then(handle).catch(function () {
      showNotice(app.dataset.error);
    }).then(function () {
      setBusy(false);
      if (!form.hidden) { input.focus(); }
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (busy) { return; }
    var submitter = event.submitter;
    if (submitter && submitter.id === "end") {
      if (window.confirm(app.dataset.endConfirm)) { post("/end"); }
      return;
    }
    var text = input.value;
    if (text.trim()) { addMessage("participant", text); }
    input.value = "";
    post("/messages", { text: text });
  });

  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      if (form.requestSubmit) { form.requestSubmit(send); } else { send.click(); }
    }
  });

  // Welcome screen first, until the person starts (only before the first answer).
  if (welcome && start && app.dataset.started !== "true" && app.dataset.status !== "completed") {
    start.hidden = false;
    chat.hidden = true;
    var formWasHidden = form.hidden;
    form.hidden = true;
    start.addEventListener("click", function () {
      welcome.hidden = true;
      chat.hidden = false;
      form.hidden = formWasHidden;
      if (!form.hidden) { input.focus(); }
      scrollDown();
    });
  } else if (welcome && app.dataset.started === "true") {
    welcome.hidden = true;
  }
  scrollDown();
})();
