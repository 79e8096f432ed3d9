/**
 * The dashboard's HTML and CSS. Embedded as a TS constant rather than a file next to the code
 * because the build copies only .json assets to dist/ and the image ships only dist/: a string
 * compiled into the module is found the same way from jest, from dist/ and from the container.
 */
import { CHART_LIBRARY_PATH, DASHBOARD_SCRIPT_PATH } from '../dashboard-routes';

export interface DashboardPageOptions {
  /** The configured ANSI C84.1 Range A limits (VOLTAGE_LOW / VOLTAGE_HIGH), drawn on every chart. */
  voltageLow: number;
  voltageHigh: number;
}

const STYLE = `
  :root {
    --bg: #f5f6f8; --card: #ffffff; --line: #e2e5ea; --text: #1f2933; --muted: #667085;
    --accent: #1d4ed8; --band: rgba(37, 99, 235, 0.16); --bad: #c81e1e; --bad-bg: #fdecec; --warn: #b45309; --warn-bg: #fff4e0;
  }
  * { box-sizing: border-box; }
  body { margin: 0; background: var(--bg); color: var(--text);
    font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
  header { display: flex; flex-wrap: wrap; align-items: center; gap: 12px 24px; padding: 14px 24px;
    background: var(--card); border-bottom: 1px solid var(--line); }
  header h1 { margin: 0; font-size: 18px; font-weight: 600; }
  header h1 span { color: var(--muted); font-weight: 400; }
  .stats { display: flex; gap: 10px; flex-wrap: wrap; }
  .stat { display: flex; align-items: baseline; gap: 6px; padding: 4px 12px; border: 1px solid var(--line);
    border-radius: 999px; background: var(--bg); }
  .stat b { font-size: 16px; font-variant-numeric: tabular-nums; }
  .stat.bad { background: var(--bad-bg); border-color: #f5b5b5; color: var(--bad); }
  .status { margin-left: auto; color: var(--muted); font-size: 13px; }
  #status.error { color: var(--bad); }
  .link-button { border: 0; background: none; color: var(--accent); cursor: pointer; font: inherit; padding: 0; margin-left: 8px; }
  main { padding: 16px 24px 32px; max-width: 1800px; }
  h2 { font-size: 15px; font-weight: 600; margin: 24px 0 10px; }
  h2:first-child { margin-top: 4px; }
  .legend { color: var(--muted); font-size: 12px; font-weight: 400; margin-left: 12px; }
  .swatch { display: inline-block; width: 16px; height: 9px; vertical-align: middle; margin: 0 4px 0 10px; }
  .swatch.mean { height: 2px; background: var(--accent); }
  .swatch.band { background: var(--band); }
  .swatch.limit { height: 0; border-top: 2px dashed var(--bad); }
  .grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(310px, 1fr)); gap: 12px; }
  .card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px 8px; }
  .card.alerting { border: 2px solid var(--bad); padding: 9px 11px 7px; }
  .card-head { display: flex; align-items: baseline; gap: 8px; }
  .card-head h3 { margin: 0; font-size: 15px; }
  .badge { font-size: 11px; font-weight: 600; padding: 1px 7px; border-radius: 999px; background: var(--bad-bg); color: var(--bad); }
  .badge.warning { background: var(--warn-bg); color: var(--warn); }
  .badge.info { background: #e8f0fe; color: var(--accent); }
  .badge.muted { background: var(--bg); color: var(--muted); font-weight: 400; }
  .badge + .badge { margin-left: 4px; }
  .note { color: var(--muted); font-size: 12px; margin-top: 2px; }
  .figures { margin-left: auto; display: flex; gap: 12px; font-variant-numeric: tabular-nums; }
  .figure { color: var(--muted); font-size: 12px; }
  .figure b { color: var(--text); font-size: 15px; }
  .figure.out b { color: var(--bad); }
  .chart { position: relative; height: 150px; margin-top: 6px; }
  .card-foot { color: var(--muted); font-size: 12px; display: flex; justify-content: space-between; }
  .empty { color: var(--muted); padding: 12px 0; }
  table { width: 100%; border-collapse: collapse; background: var(--card); border: 1px solid var(--line); border-radius: 8px; overflow: hidden; }
  th, td { text-align: left; padding: 7px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
  th { font-size: 12px; font-weight: 600; color: var(--muted); background: #fafbfc; }
  tr:last-child td { border-bottom: 0; }
  td.nowrap { white-space: nowrap; }
  td.payload { width: 32%; }
  code { font: 12px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: var(--bg); padding: 1px 4px;
    border-radius: 4px; word-break: break-all; }
  .token-panel { max-width: 460px; margin: 24px 0; padding: 16px; background: var(--card); border: 1px solid var(--line); border-radius: 8px; }
  .token-panel p { margin: 0 0 10px; }
  .token-panel .error { color: var(--bad); }
  .token-panel input { width: 100%; padding: 7px 9px; font: inherit; border: 1px solid var(--line); border-radius: 6px; margin-bottom: 10px; }
  .token-panel button { padding: 6px 14px; font: inherit; border: 0; border-radius: 6px; background: var(--accent); color: #fff; cursor: pointer; }
  [hidden] { display: none !important; }
`;

/** The page: an empty skeleton that the script fills and refreshes from the JSON endpoints. */
export function renderDashboardPage(options: DashboardPageOptions): string {
  const low = Number(options.voltageLow);
  const high = Number(options.voltageHigh);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>meterstream · feeder voltage</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body data-voltage-low="${low}" data-voltage-high="${high}">
<header>
  <h1>meterstream <span>feeder voltage</span></h1>
  <div class="stats">
    <div class="stat" id="stat-lines"><b id="count-lines">–</b> lines</div>
    <div class="stat" id="stat-alerts"><b id="count-alerts">–</b> open alerts</div>
    <div class="stat" id="stat-dead-letters"><b id="count-dead-letters">–</b> <span id="label-dead-letters">dead letters</span></div>
  </div>
  <div class="status"><span id="status">loading…</span><button type="button" class="link-button" id="forget-token" hidden>forget token</button></div>
</header>
<main>
  <form class="token-panel" id="token-form" hidden>
    <p><b>This server needs an API token.</b></p>
    <p id="token-error" class="error" hidden>The stored token was refused; enter the current one.</p>
    <p>Enter the <code>API_TOKEN</code> the query API was started with. It stays in this browser (localStorage) and is sent as <code>Authorization: Bearer</code>.</p>
    <input type="password" id="token-input" autocomplete="off" placeholder="API token" required>
    <button type="submit">Use token</button>
  </form>
  <section id="content">
    <h2>Lines, last hour of 1-minute windows
      <span class="legend"><span class="swatch mean"></span>mean<span class="swatch band"></span>min–max<span class="swatch limit"></span>Range A ${low}–${high} V</span>
    </h2>
    <div class="grid" id="cards"></div>
    <p class="empty" id="no-lines" hidden>No line has reported yet.</p>
    <h2>Open alerts</h2>
    <table>
      <thead><tr><th>Line</th><th>Kind</th><th>Severity</th><th>Since</th><th>Message</th></tr></thead>
      <tbody id="alerts"></tbody>
    </table>
    <h2>Latest dead letters <span class="legend">messages the ingest bridge refused</span></h2>
    <table>
      <thead><tr><th>Received</th><th>Topic</th><th>Reason</th><th>Payload</th></tr></thead>
      <tbody id="dead-letters"></tbody>
    </table>
  </section>
  <noscript><p>The dashboard needs JavaScript. The same data is served as JSON: /lines, /alerts, /dead-letters (see /docs).</p></noscript>
</main>
<script src="${CHART_LIBRARY_PATH}"></script>
<script src="${DASHBOARD_SCRIPT_PATH}"></script>
</body>
</html>
`;
}
