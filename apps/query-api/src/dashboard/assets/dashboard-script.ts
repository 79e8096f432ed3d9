/**
 * The dashboard's browser script: plain ES2020 served as-is (no framework, no build step), kept
 * here as a string for the same reason as the page (see dashboard-page.ts). String.raw keeps
 * backslashes verbatim; the script avoids backticks and "${" so nothing in it is interpolated.
 *
 * Every value that comes from the API is written with textContent, never as HTML: dead letters
 * carry whatever bytes a device sent, and the page must not run them.
 */
export const DASHBOARD_SCRIPT = String.raw`(function () {
  'use strict';

  var REFRESH_MS = 5000;
  var HOUR_MS = 60 * 60 * 1000;
  var QUARTER_MS = 15 * 60 * 1000;
  var DEAD_LETTER_LIMIT = 20;
  var STALE_MS = 5 * 60 * 1000;
  var TOKEN_KEY = 'meterstream.apiToken';

  var LOW = Number(document.body.dataset.voltageLow) || 114;
  var HIGH = Number(document.body.dataset.voltageHigh) || 126;
  // One fixed y range for every card, so lines compare at a glance; widened if the limits are.
  var Y_MIN = Math.min(108, Math.floor(LOW) - 6);
  var Y_MAX = Math.max(130, Math.ceil(HIGH) + 4);
  var NOMINAL = 120;

  var $ = function (id) { return document.getElementById(id); };
  var cards = new Map(); // lineId -> { root, chart, ... }
  var timer = null;
  var generation = 0; // a refresh started later (token entered, tab shown) supersedes one in flight

  // ---- token: localStorage can be unavailable (privacy modes), the page then asks every load

  function readToken() {
    try { return localStorage.getItem(TOKEN_KEY) || ''; } catch (e) { return ''; }
  }
  function writeToken(token) {
    try {
      if (token) localStorage.setItem(TOKEN_KEY, token); else localStorage.removeItem(TOKEN_KEY);
    } catch (e) { /* kept for this page only */ }
    memoryToken = token;
  }
  var memoryToken = readToken();

  function Unauthorized() { this.name = 'Unauthorized'; }

  async function getJson(path) {
    var headers = { Accept: 'application/json' };
    if (memoryToken) headers.Authorization = 'Bearer ' + memoryToken;
    var res = await fetch(path, { headers: headers, cache: 'no-store' });
    if (res.status === 401) throw new Unauthorized();
    if (!res.ok) {
      var detail = '';
      try { var body = await res.json(); detail = [].concat(body.message || []).join('; '); } catch (e) { /* not JSON */ }
      throw new Error(path.split('?')[0] + ' answered ' + res.status + (detail ? ': ' + detail : ''));
    }
    return { body: await res.json(), date: res.headers.get('Date') };
  }

  // ---- formatting

  function pad(n) { return n < 10 ? '0' + n : String(n); }
  function clock(ms, withSeconds) {
    var d = new Date(ms);
    return pad(d.getHours()) + ':' + pad(d.getMinutes()) + (withSeconds ? ':' + pad(d.getSeconds()) : '');
  }
  function dateTime(ms) {
    var d = new Date(ms);
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' + clock(ms, true);
  }
  function ago(ms, now) {
    var s = Math.max(0, Math.round((now - ms) / 1000));
    if (s < 60) return s + ' s ago';
    if (s < 3600) return Math.round(s / 60) + ' min ago';
    if (s < 48 * 3600) return (s / 3600).toFixed(1) + ' h ago';
    return Math.round(s / 86400) + ' days ago';
  }
  function volts(v) { return typeof v === 'number' ? v.toFixed(1) : '–'; }
  function byLineId(a, b) { return a.lineId.localeCompare(b.lineId, undefined, { numeric: true }); }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function cell(row, text, className, title) {
    var td = el('td', className, text);
    if (title) td.title = title;
    row.appendChild(td);
    return td;
  }

  function setStatus(text, isError) {
    $('status').textContent = text;
    $('status').className = isError ? 'error' : '';
  }

  // ---- charts

  // The dashed Range A limits, drawn under the data so the band stays readable.
  var rangeLimits = {
    id: 'rangeLimits',
    beforeDatasetsDraw: function (chart) {
      var ctx = chart.ctx, area = chart.chartArea, y = chart.scales.y;
      ctx.save();
      ctx.setLineDash([5, 4]);
      ctx.lineWidth = 1.25;
      ctx.strokeStyle = '#c81e1e';
      [LOW, HIGH].forEach(function (v) {
        var py = Math.round(y.getPixelForValue(v)) + 0.5;
        ctx.beginPath();
        ctx.moveTo(area.left, py);
        ctx.lineTo(area.right, py);
        ctx.stroke();
      });
      ctx.restore();
    },
  };

  var TOOLTIP_ORDER = { max: 0, mean: 1, min: 2 };

  /** Points at window start; a missing window becomes a null so the line breaks instead of bridging an outage. */
  function series(windows) {
    var mean = [], min = [], max = [], prevEnd = null;
    windows.forEach(function (w) {
      if (w.deviceId !== null) return;
      var start = Date.parse(w.windowStart), end = Date.parse(w.windowEnd);
      if (prevEnd !== null && start > prevEnd) {
        [mean, min, max].forEach(function (s) { s.push({ x: prevEnd, y: null }); });
      }
      mean.push({ x: start, y: w.voltage.mean });
      min.push({ x: start, y: w.voltage.min });
      max.push({ x: start, y: w.voltage.max });
      prevEnd = end;
    });
    return { mean: mean, min: min, max: max };
  }

  function createChart(canvas) {
    return new Chart(canvas, {
      type: 'line',
      data: {
        datasets: [
          { label: 'min', data: [], borderWidth: 0, pointRadius: 0, fill: false, backgroundColor: 'rgba(37, 99, 235, 0.16)' },
          { label: 'max', data: [], borderWidth: 0, pointRadius: 0, fill: '-1', backgroundColor: 'rgba(37, 99, 235, 0.16)' },
          { label: 'mean', data: [], borderWidth: 1.6, borderColor: '#1d4ed8', pointRadius: 0, pointHoverRadius: 3, fill: false },
        ],
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        normalized: true,
        spanGaps: false,
        interaction: { mode: 'index', intersect: false },
        layout: { padding: { right: 4 } },
        scales: {
          x: {
            type: 'linear',
            // Ticks on the quarter hours of the wall clock rather than at "now minus n minutes".
            afterBuildTicks: function (axis) {
              var ticks = [];
              for (var t = Math.ceil(axis.min / QUARTER_MS) * QUARTER_MS; t <= axis.max; t += QUARTER_MS) ticks.push({ value: t });
              axis.ticks = ticks;
            },
            ticks: { maxRotation: 0, autoSkip: false, font: { size: 10 }, color: '#667085',
              callback: function (v) { return clock(v, false); } },
            grid: { color: '#f0f2f5' },
          },
          y: {
            min: Y_MIN,
            max: Y_MAX,
            // Ticks at the limits and nominal voltage, not at round numbers: those are the values that matter.
            afterBuildTicks: function (axis) {
              axis.ticks = [Y_MIN, LOW, NOMINAL, HIGH, Y_MAX].filter(function (v, i, all) { return all.indexOf(v) === i; })
                .sort(function (a, b) { return a - b; }).map(function (v) { return { value: v }; });
            },
            ticks: { font: { size: 10 }, color: '#667085' },
            grid: { color: '#f0f2f5' },
          },
        },
        plugins: {
          legend: { display: false },
          tooltip: {
            filter: function (item) { return item.raw && item.raw.y !== null; },
            itemSort: function (a, b) { return TOOLTIP_ORDER[a.dataset.label] - TOOLTIP_ORDER[b.dataset.label]; },
            callbacks: {
              title: function (items) { return items.length ? 'window ' + clock(items[0].raw.x, false) : ''; },
              label: function (item) { return ' ' + item.dataset.label + ' ' + volts(item.raw.y) + ' V'; },
            },
          },
        },
      },
      plugins: [rangeLimits],
    });
  }

  function createCard(lineId) {
    var root = el('article', 'card');
    var head = el('div', 'card-head');
    head.appendChild(el('h3', '', lineId));
    var badge = el('span', 'badge');
    head.appendChild(badge);
    var figures = el('div', 'figures');
    var meanFig = el('span', 'figure');
    var minFig = el('span', 'figure');
    figures.appendChild(meanFig);
    figures.appendChild(minFig);
    head.appendChild(figures);
    root.appendChild(head);

    var box = el('div', 'chart');
    var canvas = el('canvas');
    canvas.setAttribute('role', 'img');
    canvas.setAttribute('aria-label', 'voltage of line ' + lineId + ' over the last hour');
    box.appendChild(canvas);
    root.appendChild(box);

    var foot = el('div', 'card-foot');
    var left = el('span');
    var right = el('span');
    foot.appendChild(left);
    foot.appendChild(right);
    root.appendChild(foot);

    return { root: root, badge: badge, meanFig: meanFig, minFig: minFig, left: left, right: right, chart: createChart(canvas) };
  }

  function setFigure(node, label, value) {
    node.textContent = '';
    node.appendChild(document.createTextNode(label + ' '));
    node.appendChild(el('b', '', volts(value)));
    node.appendChild(document.createTextNode(' V'));
    node.classList.toggle('out', typeof value === 'number' && (value < LOW || value > HIGH));
  }

  function updateCard(card, line, windows, now) {
    var open = line.openAlerts.length;
    card.root.classList.toggle('alerting', open > 0);
    card.badge.hidden = open === 0;
    card.badge.textContent = open === 1 ? '1 alert' : open + ' alerts';

    var latest = line.latestWindow;
    setFigure(card.meanFig, 'mean', latest ? latest.voltage.mean : null);
    setFigure(card.minFig, 'min', latest ? latest.voltage.min : null);

    var lastReading = line.latestReadingTime ? Date.parse(line.latestReadingTime) : null;
    card.left.textContent = latest ? latest.meters + ' meters · window ' + clock(Date.parse(latest.windowStart), false) : 'no window yet';
    card.right.textContent = lastReading === null ? 'no readings' : 'last reading ' + ago(lastReading, now);
    card.right.style.color = lastReading !== null && now - lastReading > STALE_MS ? '#b45309' : '';

    var chart = card.chart;
    if (windows === null) {
      card.left.textContent = 'windows could not be loaded';
    } else {
      var s = series(windows);
      chart.data.datasets[0].data = s.min;
      chart.data.datasets[1].data = s.max;
      chart.data.datasets[2].data = s.mean;
      if (s.mean.length === 0) card.left.textContent = 'no window in the last hour';
    }
    chart.options.scales.x.min = now - HOUR_MS;
    chart.options.scales.x.max = now;
    chart.update('none');
  }

  function renderCards(lines, windowsByLine, now) {
    var grid = $('cards');
    var seen = new Set();
    lines.forEach(function (line, i) {
      seen.add(line.lineId);
      var card = cards.get(line.lineId);
      if (!card) {
        card = createCard(line.lineId);
        cards.set(line.lineId, card);
      }
      // Keeps the cards sorted without rebuilding them (rebuilding would drop the charts' state).
      if (grid.children[i] !== card.root) grid.insertBefore(card.root, grid.children[i] || null);
      updateCard(card, line, windowsByLine[i], now);
    });
    cards.forEach(function (card, lineId) {
      if (seen.has(lineId)) return;
      card.chart.destroy();
      card.root.remove();
      cards.delete(lineId);
    });
    $('no-lines').hidden = lines.length > 0;
  }

  // ---- tables

  function emptyRow(tbody, columns, text) {
    var row = el('tr');
    var td = cell(row, text, 'empty');
    td.colSpan = columns;
    tbody.appendChild(row);
  }

  function renderAlerts(alerts, now) {
    var tbody = $('alerts');
    tbody.textContent = '';
    if (alerts.length === 0) return emptyRow(tbody, 5, 'No open alerts.');
    alerts.slice().sort(function (a, b) { return byLineId(a, b) || Date.parse(b.raisedAt) - Date.parse(a.raisedAt); }).forEach(function (a) {
      var row = el('tr');
      cell(row, a.lineId + (a.deviceId ? ' / ' + a.deviceId : ''), 'nowrap');
      cell(row, a.kind, 'nowrap');
      var severity = cell(row, '', 'nowrap');
      severity.appendChild(el('span', 'badge ' + a.severity, a.severity));
      if (a.state === 'acknowledged') {
        // Who and when from the acknowledgement's own fields; its note under the message.
        var ack = el('span', 'badge muted', 'acknowledged by ' + a.acknowledgedBy);
        ack.title = 'acknowledged ' + dateTime(Date.parse(a.acknowledgedAt));
        severity.appendChild(ack);
      }
      cell(row, ago(Date.parse(a.raisedAt), now), 'nowrap', dateTime(Date.parse(a.raisedAt)));
      var message = cell(row, a.message);
      if (a.note) message.appendChild(el('div', 'note', 'note: ' + a.note));
      tbody.appendChild(row);
    });
  }

  function payloadPreview(d) {
    if (d.payloadText === null) return 'binary, ' + atob(d.payloadBase64).length + ' bytes';
    if (d.payloadText.length === 0) return '(empty)';
    return d.payloadText.length > 120 ? d.payloadText.slice(0, 117) + '…' : d.payloadText;
  }

  function renderDeadLetters(deadLetters) {
    var tbody = $('dead-letters');
    tbody.textContent = '';
    if (deadLetters.length === 0) return emptyRow(tbody, 4, 'No dead letters: every message was accepted.');
    deadLetters.forEach(function (d) {
      var row = el('tr');
      cell(row, dateTime(Date.parse(d.receivedAt)), 'nowrap');
      cell(row, d.topic);
      cell(row, d.reason);
      var payload = cell(row, '', 'payload');
      var code = el('code', '', payloadPreview(d));
      if (d.payloadText !== null) code.title = d.payloadText;
      payload.appendChild(code);
      tbody.appendChild(row);
    });
  }

  function renderHeader(lineCount, alertCount, deadLetterCount, moreDeadLetters) {
    $('count-lines').textContent = String(lineCount);
    $('count-alerts').textContent = String(alertCount);
    $('stat-alerts').classList.toggle('bad', alertCount > 0);
    $('count-dead-letters').textContent = String(deadLetterCount);
    // nextCursor says whether older ones exist: exactly DEAD_LETTER_LIMIT letters is not "latest".
    $('label-dead-letters').textContent = moreDeadLetters ? 'dead letters (latest ' + DEAD_LETTER_LIMIT + ')' : 'dead letters';
  }

  // ---- refresh loop

  /** The server's clock (Date header), so a browser with a wrong clock still asks for the right hour. */
  function serverNow(dateHeader) {
    var t = dateHeader ? Date.parse(dateHeader) : NaN;
    return Number.isFinite(t) ? t : Date.now();
  }

  async function refresh() {
    clearTimeout(timer);
    var mine = ++generation;
    try {
      var results = await Promise.all([
        getJson('/lines'),
        getJson('/alerts?state=open'),
        getJson('/dead-letters?limit=' + DEAD_LETTER_LIMIT),
      ]);
      var now = serverNow(results[0].date);
      var from = encodeURIComponent(new Date(now - HOUR_MS).toISOString());
      var lines = results[0].body.lines.slice().sort(byLineId);
      var windowsByLine = await Promise.all(lines.map(function (line) {
        return getJson('/lines/' + encodeURIComponent(line.lineId) + '/aggregates?from=' + from)
          .then(function (r) { return r.body.windows; })
          // One line failing (say, pruned between the two requests) must not blank the whole page.
          .catch(function (err) { if (err instanceof Unauthorized) throw err; return null; });
      }));
      if (mine !== generation) return;
      var alerts = results[1].body.alerts;
      var deadLetters = results[2].body.deadLetters;

      hideTokenForm();
      renderHeader(lines.length, alerts.length, deadLetters.length, results[2].body.nextCursor != null);
      renderCards(lines, windowsByLine, now);
      renderAlerts(alerts, now);
      renderDeadLetters(deadLetters);
      setStatus('updated ' + clock(Date.now(), true) + ' · every ' + REFRESH_MS / 1000 + ' s', false);
    } catch (err) {
      if (mine !== generation) return;
      if (err instanceof Unauthorized) {
        // No retry loop: nothing will change until someone enters a token.
        showTokenForm();
        return;
      }
      setStatus('refresh failed: ' + (err && err.message ? err.message : String(err)) + ' (retrying)', true);
    }
    timer = setTimeout(refresh, REFRESH_MS);
  }

  function showTokenForm() {
    $('token-error').hidden = !memoryToken;
    $('token-form').hidden = false;
    $('content').hidden = true;
    $('forget-token').hidden = true;
    setStatus(memoryToken ? 'token refused' : 'token needed', true);
    $('token-input').focus();
  }

  function hideTokenForm() {
    $('token-form').hidden = true;
    $('content').hidden = false;
    $('forget-token').hidden = !memoryToken;
  }

  $('token-form').addEventListener('submit', function (event) {
    event.preventDefault();
    var token = $('token-input').value.trim();
    if (!token) return;
    writeToken(token);
    $('token-input').value = '';
    setStatus('loading…', false);
    refresh();
  });

  $('forget-token').addEventListener('click', function () {
    writeToken('');
    refresh();
  });

  // A tab in the background refreshes on return instead of showing 5-second-old data forever.
  document.addEventListener('visibilitychange', function () {
    if (!document.hidden && $('token-form').hidden) refresh();
  });

  if (typeof Chart === 'undefined') {
    setStatus('the chart library (chart.umd.min.js) did not load', true);
    return;
  }
  refresh();
})();
`;
