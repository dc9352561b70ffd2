/**
 * `GET /dashboard`: one self-contained page (no CDN, no network beyond this Worker). It polls
 * /stats and /inspect every second. Its contract for tests: `data-stat="warm|acquired|warming|total"`
 * hold the integers from stats(); `data-action="new-session|warmup|shutdown|release"` are the buttons;
 * the chart's `data-points` counts the samples drawn.
 */
const style = `
  body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #1d2330; background: #f6f7f9; }
  h1 { font-size: 20px; margin: 0 0 16px; }
  .row { display: flex; gap: 12px; flex-wrap: wrap; margin-bottom: 16px; }
  .card { background: #fff; border: 1px solid #dde1e7; border-radius: 8px; padding: 12px 16px; min-width: 110px; }
  .card b { display: block; font-size: 26px; }
  .card span { color: #5b6475; font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
  .warm b { color: #d9480f; } .acquired b { color: #1c7ed6; } .warming b { color: #a61e4d; }
  button { font: inherit; padding: 6px 12px; border-radius: 6px; border: 1px solid #b8c0cc; background: #fff; cursor: pointer; }
  button:hover { background: #eef1f5; }
  button.danger { border-color: #e03131; color: #e03131; }
  svg { background: #fff; border: 1px solid #dde1e7; border-radius: 8px; }
  table { border-collapse: collapse; background: #fff; width: 100%; font-size: 13px; }
  th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid #eceff3; }
  th { color: #5b6475; font-weight: 600; }
  code { font-size: 12px; }
  #status { color: #5b6475; margin-left: 8px; }
  .legend i { display: inline-block; width: 10px; height: 10px; margin: 0 4px 0 12px; border-radius: 2px; }
`

const script = `
const WINDOW = 300; // samples kept: five minutes at one per second
const series = { warm: [], acquired: [], warming: [] };
const colors = { warm: "#d9480f", acquired: "#1c7ed6", warming: "#a61e4d" };
const $ = (selector) => document.querySelector(selector);
const show = (message) => { $("#status").textContent = message; };

async function call(method, path) {
  const response = await fetch(path, { method });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error + ": " + body.message);
  return body;
}

function draw() {
  const svg = $("#chart"), width = 720, height = 180, pad = 24;
  const all = [].concat(series.warm, series.acquired, series.warming);
  const top = Math.max(1, ...all);
  // Newest sample at the right edge; the axis spans a minute at first, growing to the whole window.
  const span = Math.min(WINDOW, Math.max(60, series.warm.length));
  const x = (i, n) => pad + ((span - n + i) * (width - 2 * pad)) / (span - 1);
  const y = (v) => height - pad - (v * (height - 2 * pad)) / top;
  let lines = '<line x1="' + pad + '" y1="' + (height - pad) + '" x2="' + (width - pad) + '" y2="' + (height - pad) + '" stroke="#ccd2da"/>';
  lines += '<text x="4" y="' + (pad + 4) + '" font-size="11" fill="#5b6475">' + top + '</text>';
  for (const name of Object.keys(series)) {
    const values = series[name];
    const points = values.map((v, i) => x(i, values.length).toFixed(1) + "," + y(v).toFixed(1)).join(" ");
    lines += '<polyline fill="none" stroke-width="2" stroke="' + colors[name] + '" points="' + points + '"/>';
  }
  svg.innerHTML = lines;
  svg.dataset.points = String(series.warm.length);
}

function renderStats(stats) {
  for (const name of ["warm", "acquired", "warming", "total"]) $('[data-stat="' + name + '"]').textContent = String(stats[name]);
  const s = stats.newSessions, served = s.warm + s.cold + s.refused;
  $("#hit-rate").textContent = served === 0 ? "n/a" : Math.round((100 * s.warm) / served) + "%";
  const t = stats.startTimeMs;
  $("#start-time").textContent = t.median === null ? "n/a" : t.median + " / " + t.p95 + " ms";
  $("#idle").textContent = stats.containerSeconds.warmIdle.toFixed(0) + " s";
  for (const name of Object.keys(series)) {
    series[name].push(stats[name]);
    if (series[name].length > WINDOW) series[name].shift();
  }
  draw();
}

function cell(text) { const td = document.createElement("td"); td.textContent = text; return td; }

function renderContainers(page) {
  const body = $("#containers");
  body.replaceChildren();
  const now = Date.now();
  for (const c of page.containers) {
    const tr = document.createElement("tr");
    tr.dataset.container = c.name;
    tr.append(cell(c.name.slice(0, 12) + "…"), cell(c.state), cell(c.sessionId ?? ""), cell(Math.round(c.ageMs / 1000) + " s"),
      cell(c.leaseExpiresAt === null ? "" : Math.max(0, Math.round((c.leaseExpiresAt - now) / 1000)) + " s"),
      cell(c.lastHealthCheck === null ? "" : (c.lastHealthCheck.ok ? "ok " : "failed ") + Math.round((now - c.lastHealthCheck.at) / 1000) + " s ago"));
    const actions = document.createElement("td");
    if (c.sessionId !== null) {
      const release = document.createElement("button");
      release.textContent = "release";
      release.dataset.action = "release";
      release.dataset.session = c.sessionId;
      actions.append(release);
    }
    tr.append(actions);
    body.append(tr);
  }
}

let polling = false;
async function poll() {
  if (polling) return;
  polling = true;
  try {
    const [stats, page] = await Promise.all([call("GET", "/stats"), call("GET", "/inspect?limit=50")]);
    renderStats(stats);
    renderContainers(page);
  } catch (error) {
    show(String(error.message ?? error));
  } finally {
    polling = false;
  }
}

async function act(button) {
  const action = button.dataset.action;
  try {
    if (action === "new-session") {
      const id = "dash-" + Math.random().toString(36).slice(2, 10);
      await call("POST", "/session/" + id + "/assign");
      show("assigned a container to " + id);
    } else if (action === "release") {
      const result = await call("POST", "/session/" + encodeURIComponent(button.dataset.session) + "/release");
      show("released " + button.dataset.session + ": " + result.outcome);
    } else if (action === "warmup") {
      const result = await call("POST", "/warmup?count=1");
      show("warmed up " + result.started);
    } else if (action === "shutdown") {
      if (!confirm("Stop every container in the pool?")) return;
      const result = await call("POST", "/shutdown");
      show("stopped " + result.stopped);
    }
  } catch (error) {
    show(String(error.message ?? error));
  }
  await poll();
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-action]");
  if (button !== null) act(button);
});
poll();
setInterval(poll, 1000);
`

const stat = (name: string, label: string) =>
  `<div class="card ${name}"><b data-stat="${name}">–</b><span>${label}</span></div>`

export const dashboardPage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Warm pool</title>
<link rel="icon" href="data:,">
<style>${style}</style>
</head>
<body>
<h1>Warm pool <small id="status"></small></h1>
<div class="row">
  ${stat("warm", "warm")}${stat("acquired", "acquired")}${stat("warming", "warming")}${stat("total", "total")}
  <div class="card"><b id="hit-rate">–</b><span>served warm</span></div>
  <div class="card"><b id="start-time">–</b><span>start median / p95</span></div>
  <div class="card"><b id="idle">–</b><span>idle container-seconds</span></div>
</div>
<div class="row">
  <button data-action="new-session">new session</button>
  <button data-action="warmup">warmup</button>
  <button data-action="shutdown" class="danger">shutdown</button>
</div>
<div class="legend">last 5 minutes:<i style="background:#d9480f"></i>warm<i style="background:#1c7ed6"></i>acquired<i style="background:#a61e4d"></i>warming</div>
<svg id="chart" width="720" height="180" viewBox="0 0 720 180" data-points="0" role="img" aria-label="warm, acquired and warming over time"></svg>
<h2 style="font-size:16px">Containers</h2>
<table>
<thead><tr><th>name</th><th>state</th><th>session</th><th>age</th><th>lease left</th><th>last check</th><th></th></tr></thead>
<tbody id="containers"></tbody>
</table>
<script>${script}</script>
</body>
</html>
`
