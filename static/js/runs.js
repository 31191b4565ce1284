// Live run progress and the next-sync countdown; no framework, and the page works without it.
(function () {
  "use strict";
  var live = document.querySelector("[data-live]");
  if (!live) return;
  var url = live.getAttribute("data-runs-url");
  var table = live.parentNode.querySelector("[data-runs]") || document.querySelector("[data-runs]");
  var POLL_MS = 2000;

  function countdown() {
    document.querySelectorAll("time[data-countdown]").forEach(function (el) {
      var left = Math.round((Date.parse(el.getAttribute("datetime")) - Date.now()) / 1000);
      if (left <= 0) { el.textContent = "any moment now"; return; }
      var m = Math.floor(left / 60), s = left % 60;
      el.textContent = "in " + (m ? m + " min " : "") + (s < 10 && m ? "0" : "") + s + " s";
    });
  }

  function result(run) {
    if (!run.finished) return "";
    var text = run.created + " created, " + run.updated + " updated, " + run.deleted + " deleted";
    if (run.failed) text += ", " + run.failed + " failed";
    if (run.error_text) text += ". " + run.error_text;
    if (run.held_deletions) text += ". " + run.held_deletions + " deletions wait for confirmation";
    return text;
  }

  function row(run) {
    var tr = document.createElement("tr");
    tr.setAttribute("data-run", run.code);
    var cells = [["Run", ""], ["Status", ""], ["Progress", ""], ["Queued", ""], ["Result", ""]];
    cells.forEach(function (cell) {
      var td = document.createElement("td");
      td.setAttribute("data-label", cell[0]);
      tr.appendChild(td);
    });
    var link = document.createElement("a");
    link.href = "/runs/" + run.code + "/";
    link.textContent = run.kind;
    tr.children[0].appendChild(link);
    tr.children[1].innerHTML = '<span class="badge" data-field="status_label"></span>';
    tr.children[2].innerHTML = '<progress max="100"></progress> <span data-field="progress"></span>';
    tr.children[2].querySelector("progress").setAttribute("aria-label", "Progress of the " + run.kind.toLowerCase() + " run");
    var time = document.createElement("time");
    time.setAttribute("datetime", run.queued_at);
    time.textContent = new Date(run.queued_at).toLocaleString([], {day: "numeric", month: "short", hour: "2-digit", minute: "2-digit"});
    tr.children[3].appendChild(time);
    tr.children[4].setAttribute("data-field", "result");
    return tr;
  }

  function update(tr, run) {
    var badge = tr.querySelector('[data-field="status_label"]');
    badge.textContent = run.status_label;
    badge.className = "badge status-" + run.status;
    var bar = tr.querySelector("progress");
    bar.value = run.progress_percent;
    bar.textContent = run.progress_percent + "%";
    tr.querySelector('[data-field="progress"]').textContent = run.progress_done + " / " + run.progress_total;
    tr.querySelector('[data-field="result"]').textContent = result(run);
  }

  function render(data) {
    if (!table) return false;
    var body = table.tBodies[0];
    var open = false;
    var limit = body.querySelectorAll("tr[data-run]").length || 5;
    data.runs.slice(0, Math.max(limit, 1)).reverse().forEach(function (run) {
      var tr = body.querySelector('tr[data-run="' + run.code + '"]');
      if (!tr) {
        var empty = body.querySelector("tr:not([data-run])");
        if (empty) empty.remove();
        tr = row(run);
        body.insertBefore(tr, body.firstChild);
      }
      update(tr, run);
      if (!run.finished) open = true;
    });
    var last = document.querySelector("[data-last-sync]");
    var done = data.runs.filter(function (run) { return run.finished && run.finished_at; });
    if (last && done.length) {
      var latest = done.reduce(function (a, b) { return a.finished_at > b.finished_at ? a : b; });
      var when = new Date(latest.finished_at).toLocaleString([], {day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit"});
      last.textContent = when + " · " + latest.status_label + (latest.error_text ? ": " + latest.error_text : "");
    }
    var next = document.querySelector("time[data-countdown]");
    if (next && data.next_sync_at) next.setAttribute("datetime", data.next_sync_at);
    return open;
  }

  function poll() {
    fetch(url, {headers: {"Accept": "application/json"}, credentials: "same-origin"})
      .then(function (response) { return response.ok ? response.json() : Promise.reject(response.status); })
      .then(function (data) {
        // While a run is queued or running, follow it closely; otherwise look now and then.
        window.setTimeout(poll, render(data) ? POLL_MS : POLL_MS * 8);
      })
      .catch(function () { window.setTimeout(poll, POLL_MS * 8); });
  }

  countdown();
  window.setInterval(countdown, 1000);
  poll();
})();
