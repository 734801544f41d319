// The coordinator's dashboard: plain browser JavaScript over the public REST API (no build step).
// Live updates come from the task's server-sent event stream (/v1/tasks/:task/events).
'use strict';

const $ = (id) => document.getElementById(id);
const el = (tag, attrs = {}, ...children) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('data-')) e.setAttribute(k, v);
    else e[k] = v;
  }
  e.append(...children.map((c) => (c instanceof Node ? c : document.createTextNode(String(c)))));
  return e;
};
const short = (h) => (h ? `${h.slice(0, 10)}…` : '—');
/** Token base units (18 decimals) as a decimal string with 4 places (truncated), without float rounding. */
function tokens(units) {
  if (units == null) return '—';
  const v = BigInt(units);
  const whole = v / 10n ** 18n;
  const frac = ((v % 10n ** 18n) * 10000n) / 10n ** 18n;
  return `${whole}.${frac.toString().padStart(4, '0')}`;
}

const state = { task: null, tasks: [], rounds: [], evaluations: [], audit: null, selected: null, pinned: false, chain: null, plot: null, events: null, refreshing: null };

async function getJson(path) {
  const r = await fetch(path, { headers: { accept: 'application/json' } });
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  return r.json();
}

async function loadTasks() {
  const { tasks } = await getJson('/v1/tasks');
  state.tasks = tasks;
  const sel = $('task');
  const current = sel.value;
  sel.replaceChildren(...tasks.map((t) => el('option', { value: String(t.id) }, `#${t.id} ${t.name}`)));
  if (current) sel.value = current;
  return tasks;
}

async function init() {
  state.chain = await getJson('/v1/chain').catch(() => null);
  $('task').addEventListener('change', () => void selectTask(Number($('task').value)));
  // Until a task exists (a demo that is still starting), look again every 2 s.
  for (;;) {
    const tasks = await loadTasks().catch(() => []);
    if (tasks.length) break;
    $('summary').replaceChildren(el('div', { class: 'card' }, el('div', { class: 'k' }, 'tasks'), el('div', { class: 'v' }, 'none yet')));
    await new Promise((r) => setTimeout(r, 2000));
  }
  const asked = Number(new URLSearchParams(location.search).get('task'));
  const id = state.tasks.some((t) => t.id === asked) ? asked : state.tasks[state.tasks.length - 1].id;
  $('task').value = String(id);
  await selectTask(id);
}

async function selectTask(id) {
  state.task = state.tasks.find((t) => t.id === id) ?? null;
  state.selected = null;
  state.pinned = false;
  if (state.events) state.events.close();
  await refresh();
  const es = new EventSource(`/v1/tasks/${id}/events`);
  state.events = es;
  const live = $('live');
  es.addEventListener('open', () => { live.textContent = 'live'; live.className = 'live on'; });
  es.addEventListener('error', () => { live.textContent = 'reconnecting'; live.className = 'live'; });
  for (const name of ['round', 'reports']) es.addEventListener(name, () => scheduleRefresh());
}

/** Coalesces bursts of events into one re-read. */
function scheduleRefresh() {
  if (state.refreshing) return;
  state.refreshing = setTimeout(() => {
    state.refreshing = null;
    void refresh();
  }, 150);
}

async function refresh() {
  if (!state.task) return;
  const id = state.task.id;
  const [{ rounds }, { evaluations }, { audit }] = await Promise.all([
    getJson(`/v1/tasks/${id}/rounds`),
    getJson(`/v1/tasks/${id}/evaluations`),
    getJson(`/v1/tasks/${id}/audit`),
  ]);
  if (!state.task || state.task.id !== id) return;
  Object.assign(state, { rounds, evaluations, audit });
  // The newest round with a manifest, until the user picks one.
  if (!state.pinned) {
    const withManifest = rounds.filter((r) => r.manifestHash);
    state.selected = withManifest.length ? withManifest[withManifest.length - 1].round : null;
  }
  renderSummary();
  renderChart();
  renderRounds();
  await renderContributors();
}

function renderSummary() {
  const t = state.task;
  const committed = state.rounds.filter((r) => r.state === 'committed').length;
  const lastEval = state.evaluations[state.evaluations.length - 1];
  const a = state.audit;
  const card = (k, v, cls = '', testid = '') =>
    el('div', { class: 'card', ...(testid ? { 'data-testid': testid } : {}) }, el('div', { class: 'k' }, k), el('div', { class: `v ${cls}` }, v));
  $('summary').replaceChildren(
    card('task', `#${t.id} ${t.name}`),
    card('model', `${t.params.toLocaleString()} parameters`),
    card('mode', t.privacy === 'private' ? 'private (zk proofs)' : t.secure ? `secure aggregation (${t.secure.bits}-bit, masked updates${t.secure.dp ? ', client DP' : ''})` : 'public (signed)', '', 'mode'),
    // Private tasks: which zero-knowledge keys their proofs rest on (pinned in the genesis checkpoint).
    ...(t.zk ? [card('zk keys', t.zk.kind === 'ceremony' ? `ceremony ${short(t.zk.transcript)}, ${t.zk.contributors} contributor(s)` : 'development keys (public beacon: not for value)', t.zk.kind === 'ceremony' ? 'ok' : 'bad', 'zk-keys')] : []),
    card('strategy', t.strategy.name),
    card('rounds', `${state.rounds.length} (${committed} committed)`, '', 'rounds-count'),
    card('latest accuracy', lastEval ? `${(lastEval.accuracy * 100).toFixed(2)} % (round ${lastEval.round})` : '—'),
    card('audit', a ? `${a.pass ? 'pass' : 'FAIL'}: ${a.rounds} rounds, ${a.findings} findings${a.reaggregated ? ', re-aggregated' : ''}` : 'not reported', a ? (a.pass ? 'ok' : 'bad') : '', 'audit'),
    card('chain', state.chain ? `chain ${state.chain.chainId}, registry ${short(state.chain.registry)}` : 'none'),
  );
}

function renderChart() {
  const box = $('chart');
  const ev = state.evaluations;
  box.dataset.points = String(ev.length);
  $('chart-empty').hidden = ev.length > 0;
  if (state.plot) {
    state.plot.destroy();
    state.plot = null;
  }
  if (!ev.length || typeof uPlot === 'undefined') return;
  const data = [ev.map((e) => e.round), ev.map((e) => e.accuracy), ev.map((e) => e.loss)];
  state.plot = new uPlot({
    width: Math.max(320, box.clientWidth - 2),
    height: 260,
    scales: { x: { time: false }, acc: { range: [0, 1] }, loss: { auto: true } },
    axes: [
      { label: 'round', incrs: [1, 2, 5, 10, 20, 50, 100, 200] },
      { scale: 'acc', label: 'accuracy' },
      { scale: 'loss', label: 'loss', side: 1, grid: { show: false } },
    ],
    series: [
      { label: 'round' },
      { label: 'accuracy', scale: 'acc', stroke: '#2f5fb3', width: 2, points: { show: true } },
      { label: 'loss', scale: 'loss', stroke: '#c2571a', width: 2, dash: [6, 4], points: { show: true } },
    ],
  }, data, box);
}

function renderRounds() {
  const acc = new Map(state.evaluations.map((e) => [e.round, e.accuracy]));
  const rows = [...state.rounds].reverse().map((r) => {
    const commit = r.commit ? el('span', { title: r.commit.txHash }, `block ${r.commit.blockNumber}, tx `, el('code', {}, short(r.commit.txHash)))
      : r.commitError ? el('span', { class: 'bad', title: r.commitError }, 'retrying') : '—';
    const tr = el('tr', { 'data-round': String(r.round), 'data-state': r.state, class: r.round === state.selected ? 'selected' : '' },
      el('td', {}, r.round),
      el('td', {}, el('span', { class: `state ${r.state}`, title: r.failureReason ?? '' }, r.state)),
      el('td', {}, `${r.accepted} / ${r.rejected}`),
      el('td', {}, acc.has(r.round) ? acc.get(r.round).toFixed(4) : '—'),
      el('td', {}, el('code', { title: r.checkpointHash ?? '' }, short(r.checkpointHash))),
      el('td', {}, tokens(r.reward)),
      el('td', {}, commit));
    tr.addEventListener('click', () => {
      state.selected = r.round;
      state.pinned = true;
      renderRounds();
      void renderContributors();
    });
    return tr;
  });
  $('rounds').replaceChildren(...rows);
}

const manifests = new Map();
async function renderContributors() {
  const r = state.rounds.find((x) => x.round === state.selected);
  $('contrib-title').textContent = r ? `Contributors and rewards, round ${r.round}` : 'Contributors and rewards';
  if (!r || !r.manifestHash) {
    $('contributors').replaceChildren(el('tr', {}, el('td', { colSpan: 5 }, 'No manifest yet: a round has one once it is aggregated.')));
    return;
  }
  let m = manifests.get(r.manifestHash);
  if (!m) {
    m = await getJson(`/v1/manifests/${r.manifestHash}`);
    manifests.set(r.manifestHash, m);
  }
  // Differential privacy spent up to this round (client-level, from the manifest's accountant).
  if (m.privacy) $('contrib-title').textContent += ` · privacy spent: ε = ${m.privacy.epsilon} at δ = ${m.privacy.delta} after ${m.privacy.rounds} round(s) (${m.privacy.accountant})`;
  // Validation-gain rounds: each accepted update's leave-one-out gain, or the update it copies.
  const gain = new Map((m.contribution?.entries ?? []).map((c) => [c.client, c]));
  if (m.contribution) $('contrib-title').textContent += ' · scored by validation gain';
  const scoreCell = (e) => {
    const c = e.status === 'accepted' ? gain.get(e.client) : undefined;
    if (!c) return el('td', {}, e.score);
    if (c.copyOf) return el('td', { class: 'bad', title: `copies ${c.copyOf}` }, `0 (copy of ${short(c.copyOf)})`);
    const g = c.looLoss === null || m.contribution.aggregateLoss === null ? 'not scored' : `gain ${(c.looLoss - m.contribution.aggregateLoss).toExponential(3)} ± ${c.gainStdError?.toExponential(2)} (validation loss)`;
    return el('td', { title: g }, e.score);
  };
  $('contributors').replaceChildren(...m.entries.map((e) => el('tr', { 'data-status': e.status },
    el('td', {}, el('code', { title: e.client ?? '' }, e.client ? short(e.client) : 'unnamed')),
    el('td', {}, e.numSamples),
    el('td', { class: e.status === 'accepted' ? 'ok' : 'bad', title: e.reason?.text ?? '' }, e.status === 'accepted' ? 'accepted' : `rejected: ${e.reason.code}`),
    scoreCell(e),
    el('td', {}, tokens(e.reward)))));
}

window.addEventListener('resize', () => renderChart());
document.addEventListener('DOMContentLoaded', () => void init().catch((e) => {
  $('summary').replaceChildren(el('div', { class: 'card bad' }, `dashboard failed to load: ${e.message}`));
}));
