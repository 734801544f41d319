import { BrowserProvider, formatUnits, isAddress, type Eip1193Provider, type Signer } from 'ethers';
import type { Round, Task } from '../../protocol/index.ts';
import { nullifierOf, toBytes32, type Identity } from '../../protocol/zk/index.ts';
import { IdentityFileError } from '../identity-format.ts';
import { CoordinatorApi, CoordinatorError } from '../coordinator-api.ts';
import { FederatedClient, FederatedClientError } from '../federated-client.ts';
import { budgetLeft, claimPrivateRewards, claimRewards, listPrivateRewards, listRewards, RewardsError, type RewardLine } from '../rewards.ts';
import type { LabelledData, TrainProgress } from '../tf/train-loop.ts';
import { initPageBackend } from './browser-backend.ts';
import { preferBackend } from './browser/trainer.ts';
import { LossChart } from './loss-chart.ts';
import { decodeImages, featureSize, LocalDataError, parseCsv } from './local-data.ts';
import { activeTask, exportName, freshPayoutKey, identityExportName, identityFileText, importIdentityFile, importKeyFile, keyFileText, listUploads, loadData, memberIdentity, pageKey, recordUpload, saveData, setActiveTask, type StoredData } from './page-store.ts';

/**
 * The data owner's page: pick a task, load data (kept in the page), train with TensorFlow.js in the
 * browser, sign with the injected wallet or the page's own key, upload over HTTP, follow the verdict,
 * claim rewards. The round logic is the CLI's own FederatedClient; this file only wires it to the page.
 */

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);
const origin = location.origin;
const api = new CoordinatorApi(origin);

interface PageIdentity {
  signer: Signer;
  address: string;
  kind: 'wallet' | 'page key';
}

const state: {
  identity?: PageIdentity;
  /** The member identity for private tasks (made on first use, kept in IndexedDB). */
  member?: Identity;
  tasks: Task[];
  task?: Task;
  data?: StoredData;
  running: boolean;
  stop?: AbortController;
} = { tasks: [], running: false };

function say(id: string, text: string, tone: '' | 'good' | 'bad' = ''): void {
  const el = $(id);
  el.textContent = text;
  el.classList.toggle('good', tone === 'good');
  el.classList.toggle('bad', tone === 'bad');
}

/** One sentence a data owner can act on, for anything that went wrong. */
function explain(e: unknown): string {
  if (e instanceof TypeError && /fetch|network|Failed/i.test(e.message)) return `cannot reach the coordinator at ${origin}: it may be down or restarting`;
  if (e instanceof CoordinatorError) return `${e.message} (${e.code})`;
  if (e instanceof FederatedClientError || e instanceof LocalDataError || e instanceof RewardsError || e instanceof IdentityFileError) return e.message;
  return e instanceof Error ? e.message : String(e);
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

// --- identity -------------------------------------------------------------------------------

async function useWallet(eth: Eip1193Provider): Promise<void> {
  const provider = new BrowserProvider(eth);
  await provider.send('eth_requestAccounts', []);
  const signer = await provider.getSigner();
  setIdentity({ signer, address: (await signer.getAddress()).toLowerCase(), kind: 'wallet' });
}

async function usePageKey(): Promise<void> {
  const { wallet, created } = await pageKey();
  setIdentity({ signer: wallet, address: wallet.address.toLowerCase(), kind: 'page key' });
  if (created) say('identity-error', '');
}

function setIdentity(id: PageIdentity): void {
  state.identity = id;
  $('address').textContent = id.address;
  $('identity-kind').textContent = id.kind === 'wallet' ? 'your wallet signs' : 'key kept in this browser';
  $('export-key').hidden = id.kind === 'wallet';
  void refreshRewards();
}

function download(name: string, text: string, type = 'text/plain'): void {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([text], { type }));
  a.download = name;
  a.click();
  URL.revokeObjectURL(a.href);
}

function setMember(id: Identity): void {
  state.member = id;
  $('commitment').textContent = id.commitment.toString();
}

/** The private-task identity: made on first use, exported and imported as fl-client's identity file. */
async function setUpMember(): Promise<void> {
  setMember((await memberIdentity()).identity);
  $('export-identity').onclick = () => state.member && download(identityExportName(state.member), identityFileText(state.member), 'application/json');
  $<HTMLInputElement>('import-identity').onchange = async (ev) => {
    const input = ev.target as HTMLInputElement;
    const file = input.files?.[0];
    input.value = '';
    if (!file) return;
    try {
      setMember(await importIdentityFile(await file.text(), file.name));
      say('member-error', '');
      void refreshRewards();
    } catch (e) {
      say('member-error', explain(e), 'bad');
    }
  };
  $('new-payout').onclick = async () => {
    const w = await freshPayoutKey();
    $<HTMLInputElement>('payout').value = w.address.toLowerCase();
    download(exportName(w.address), keyFileText(w));
    say('rewards-status', `Claims will pay the fresh address ${w.address.toLowerCase()}; its key file was downloaded: keep it, it holds the tokens.`);
  };
}

async function setUpIdentity(): Promise<void> {
  const eth = (window as { ethereum?: Eip1193Provider }).ethereum;
  $('use-wallet').hidden = !eth;
  $('use-wallet').onclick = () => eth && useWallet(eth).catch((e) => say('identity-error', `the wallet refused: ${explain(e)}`, 'bad'));
  $('export-key').onclick = async () => {
    const { wallet } = await pageKey();
    download(exportName(wallet.address), keyFileText(wallet));
  };
  $<HTMLInputElement>('import-key').onchange = async (ev) => {
    const file = (ev.target as HTMLInputElement).files?.[0];
    if (!file) return;
    try {
      await importKeyFile(await file.text());
      await usePageKey();
      say('identity-error', '');
    } catch (e) {
      say('identity-error', explain(e), 'bad');
    }
  };
  if (eth) {
    try {
      await useWallet(eth);
      return;
    } catch (e) {
      say('identity-error', `the injected wallet could not be used (${explain(e)}); signing with a key kept in this browser instead`, 'bad');
    }
  }
  await usePageKey();
}

// --- tasks and data -------------------------------------------------------------------------

const shapeText = (t: Task) => `[${t.modelSpec.inputShape.join(', ')}] → ${t.modelSpec.classes} classes`;

async function loadTasks(): Promise<void> {
  try {
    state.tasks = await api.listTasks();
    say('coordinator-status', `connected to ${origin}`, 'good');
  } catch (e) {
    say('coordinator-status', explain(e), 'bad');
    setTimeout(() => void loadTasks(), 3000);
    return;
  }
  const sel = $<HTMLSelectElement>('task');
  sel.replaceChildren(
    ...state.tasks.map((t) => {
      const o = document.createElement('option');
      o.value = String(t.id);
      o.textContent = `#${t.id} ${t.name} (${t.privacy}${t.secure ? ', secure' : ''})`;
      return o;
    }),
  );
  if (state.tasks.length === 0) {
    say('task-info', 'No tasks yet: the operator has not created one.');
    return;
  }
  const wanted = Number(params.get('task') ?? (await activeTask(origin)) ?? state.tasks[0]!.id);
  const found = state.tasks.some((t) => t.id === wanted);
  sel.value = String(found ? wanted : state.tasks[0]!.id);
  sel.onchange = () => void selectTask(Number(sel.value));
  await selectTask(Number(sel.value));
  if (!found) say('task-error', `There is no task ${params.get('task') ?? wanted} on this coordinator; showing task ${sel.value} instead.`, 'bad');
}

/** Data can be chosen only for a task whose shape the page knows; until then the controls are off. */
function enableDataInputs(taskId: number | undefined): void {
  for (const id of ['csv', 'images', 'sample']) $<HTMLInputElement | HTMLButtonElement>(id).disabled = taskId === undefined;
  if (taskId === undefined) delete document.body.dataset.task;
  else document.body.dataset.task = String(taskId);
}

async function selectTask(id: number): Promise<void> {
  const t = state.tasks.find((x) => x.id === id);
  state.task = t;
  say('task-error', '');
  enableDataInputs(undefined);
  if (!t) return;
  let round: Round | null = null;
  try {
    round = await api.currentRound(t.id);
  } catch {
    // shown by the status line when taking part
  }
  const isPrivate = t.privacy === 'private';
  $('member-card').hidden = !isPrivate;
  $('payout-row').hidden = !isPrivate;
  const privateWord = isPrivate ? ' Private task: you take part as a member, proven in zero knowledge; give the task admin your commitment (above) to be admitted.' : '';
  $('task-info').textContent = `Inputs ${shapeText(t)}, ${t.params} weights, ${t.training.localEpochs} local epoch(s). ${round ? `Round ${round.round} is ${round.state}.` : 'No round yet.'}${privateWord}`;
  if (isPrivate) void showAdmission(t);
  state.data = undefined;
  const stored = await loadData(origin, t.id);
  if (stored && featureSize({ inputShape: stored.inputShape, classes: t.modelSpec.classes }) === featureSize(t.modelSpec)) setData(stored);
  else showNoData();
  enableDataInputs(t.id);
  void refreshRewards();
  if ((await activeTask(origin)) === t.id && state.data && !state.running) void takePart();
}

/** Whether the task admin has admitted this page's commitment yet. */
async function showAdmission(t: Task): Promise<boolean> {
  const m = state.member;
  if (!m) return false;
  try {
    const members = await api.members(t.id);
    const admitted = members.commitments.includes(m.commitment.toString());
    say('member-status', admitted ? `Admitted to task ${t.id} (one of ${members.count} members).` : `Not admitted to task ${t.id} yet: give the task admin your commitment.`, admitted ? 'good' : 'bad');
    return admitted;
  } catch (e) {
    say('member-status', explain(e), 'bad');
    return false;
  }
}

function showNoData(): void {
  $('data-info').textContent = 'No data loaded yet.';
  updateJoinButton();
}

function setData(d: StoredData): void {
  state.data = d;
  const counts = new Map<number, number>();
  for (let i = 0; i < d.data.n; i++) counts.set(d.data.y[i]!, (counts.get(d.data.y[i]!) ?? 0) + 1);
  const classes = [...counts.entries()].sort((a, b) => a[0] - b[0]).map(([c, n]) => `${c}:${n}`).join(' ');
  $('data-info').textContent = `${d.data.n} samples loaded from ${d.source} (labels ${classes}). They stay in this browser.`;
  say('data-error', '');
  updateJoinButton();
}

function updateJoinButton(): void {
  $<HTMLButtonElement>('join').disabled = !state.task || !state.data || state.running;
}

async function acceptData(make: () => Promise<LabelledData>, source: string): Promise<void> {
  const t = state.task;
  if (!t) return;
  try {
    const data = await make();
    const d: StoredData = { data, source, inputShape: [...t.modelSpec.inputShape] };
    await saveData(origin, t.id, d);
    setData(d);
  } catch (e) {
    state.data = undefined;
    $('data-info').textContent = 'Nothing loaded: nothing will be trained or uploaded.';
    say('data-error', explain(e), 'bad');
    updateJoinButton();
  }
}

function setUpData(): void {
  $<HTMLInputElement>('csv').onchange = (ev) => {
    const input = ev.target as HTMLInputElement;
    const file = input.files?.[0];
    if (file && state.task) void acceptData(async () => parseCsv(await file.text(), state.task!.modelSpec), file.name);
    input.value = '';
  };
  $<HTMLInputElement>('images').onchange = (ev) => {
    const input = ev.target as HTMLInputElement;
    const files = [...(input.files ?? [])].map((f) => ({ path: f.webkitRelativePath || f.name, blob: f as Blob }));
    if (files.length && state.task) void acceptData(() => decodeImages(files, state.task!.modelSpec, (i, n) => ($('data-info').textContent = `reading image ${i} of ${n}…`)), `${files.length} image files`);
    input.value = '';
  };
  const idx = $<HTMLInputElement>('shard-index');
  const of = $<HTMLInputElement>('shard-of');
  if (params.get('shard')) {
    const [i, k] = params.get('shard')!.split('/');
    idx.value = i ?? '0';
    of.value = k ?? '10';
  } else {
    idx.value = String(Math.floor(Math.random() * Number(of.value)));
  }
  $('sample').onclick = () => {
    const t = state.task;
    if (!t) return;
    const shard = `${idx.value}/${of.value}`;
    // The sample is a CSV served by the coordinator; it goes through the same parser as a chosen file.
    void acceptData(async () => {
      const res = await fetch(`sample.csv?task=${t.id}&shard=${encodeURIComponent(shard)}`);
      if (!res.ok) throw new LocalDataError('EMPTY', `no sample data for this task: ${(await res.text()).slice(0, 200)}`);
      return parseCsv(await res.text(), t.modelSpec);
    }, `sample share ${shard}`);
  };
}

// --- taking part ----------------------------------------------------------------------------

function logRound(round: number, text: string, cls: 'accepted' | 'rejected' | 'info'): void {
  const id = `round-${round}`;
  let li = document.getElementById(id);
  if (!li) {
    li = document.createElement('li');
    li.id = id;
    li.dataset['round'] = String(round);
    $('round-log').prepend(li);
  }
  li.className = cls;
  li.dataset['state'] = cls;
  li.textContent = `Round ${round}: ${text}`;
}

async function takePart(): Promise<void> {
  const t = state.task;
  const id = state.identity;
  if (!t || !id || !state.data || state.running) return;
  state.running = true;
  state.stop = new AbortController();
  const signal = state.stop.signal;
  updateJoinButton();
  $('stop').hidden = false;
  await setActiveTask(origin, t.id);
  const backend = await initPageBackend(params.get('backend')).catch((e: unknown) => {
    say('status', explain(e), 'bad');
    return null;
  });
  if (!backend) return finish();
  $('backend').textContent = `TensorFlow.js ${backend.name}`;
  const isPrivate = t.privacy === 'private';
  const member = state.member;
  // Uploads are recorded under the identity that made them: the address, or a private member's commitment.
  const who = isPrivate && member ? `member:${member.commitment}` : id.address;
  const client = new FederatedClient({ coordinatorUrl: origin, api, wallet: id.signer, identity: isPrivate ? member : undefined, upload: { mode: 'http' }, pollMs: 500 });
  const chart = new LossChart($('loss-chart'));
  const data = state.data.data;
  let after = 0;
  try {
    if (t.secure) throw new FederatedClientError('WALLET_REQUIRED', `task ${t.id} runs secure aggregation, which this page does not do yet; use fl-client`);
    if (isPrivate) {
      if (!member) throw new FederatedClientError('IDENTITY_REQUIRED', `task ${t.id} is private and this page has no member identity`);
      await showAdmission(t);
    } else {
      say('status', 'Registering…');
      await client.register(t.id);
    }
    const done = new Map((await listUploads(origin, t.id, who)).map((u) => [u.round, u]));
    // After a reload: the last upload's verdict first, even if its round has closed meanwhile.
    const last = [...done.values()].sort((x, y) => y.round - x.round)[0];
    if (last) {
      logRound(last.round, 'uploaded before this page was reloaded; waiting for the verdict', 'info');
      await follow(client, t, last.round, last.jobId, last.updateHash);
      after = last.round;
    }
    while (!signal.aborted) {
      say('status', after ? `Waiting for the round after ${after}…` : 'Waiting for an open round…');
      let round: Round | null;
      try {
        round = await client.waitForOpenRound(t.id, after, 30_000);
      } catch (e) {
        say('status', `${explain(e)}; trying again in 5 s`, 'bad');
        await sleep(5000, signal);
        continue;
      }
      if (!round || signal.aborted) continue;
      // A private round lists a member's update under its round nullifier, not an address.
      const me = isPrivate && member ? toBytes32(nullifierOf(member.secret, t.id, round.round)) : id.address;
      const mine = round.acceptedUpdates.find((u) => u.client === me);
      const earlier = done.get(round.round);
      if (earlier || mine) {
        // Uploaded before a reload: never trained or uploaded twice; just follow its verdict.
        const jobId = earlier?.jobId ?? mine!.jobId;
        logRound(round.round, 'uploaded before this page was reloaded; waiting for the verdict', 'info');
        await follow(client, t, round.round, jobId, earlier?.updateHash);
        after = round.round;
        continue;
      }
      if (isPrivate && !(await client.isRoundMember(round))) {
        // A member admitted after the round opened is not in its members snapshot: the next round.
        logRound(round.round, `not among the ${round.membersCount} members this round opened with (your commitment was not admitted yet); waiting for the next round`, 'rejected');
        void showAdmission(t);
        after = round.round;
        continue;
      }
      say('status', `Round ${round.round}: training on ${data.n} samples…`);
      $<HTMLProgressElement>('train-progress').value = 0;
      chart.reset();
      const onProgress = (p: TrainProgress) => {
        const step = (p.epoch - 1) * p.batches + p.batch;
        const prog = $<HTMLProgressElement>('train-progress');
        prog.max = p.epochs * p.batches;
        prog.value = step;
        prog.dataset['round'] = String(round!.round);
        chart.add(step, p.loss);
        say('status', `Round ${round!.round}: epoch ${p.epoch}/${p.epochs}, batch ${p.batch}/${p.batches}, loss ${p.loss.toFixed(4)}`);
      };
      let result;
      try {
        result = await client.contribute({ task: t, round, data, onProgress, onStage: (s, bytes) => {
            if (s === 'trained') say('status', isPrivate ? `Round ${round!.round}: proving membership in zero knowledge (in a background worker; this takes a few seconds)…` : `Round ${round!.round}: signing and uploading ${(bytes / 1024).toFixed(0)} KiB…`);
            if (s === 'proved') say('status', `Round ${round!.round}: proof made; uploading ${(bytes / 1024).toFixed(0)} KiB…`);
          },
        });
      } catch (e) {
        logRound(round.round, `not uploaded: ${explain(e)}`, 'rejected');
        say('status', explain(e), 'bad');
        after = round.round;
        await sleep(2000, signal);
        continue;
      }
      const rec = { task: t.id, round: round.round, address: who, updateHash: result.updateHash, jobId: result.jobId, numSamples: result.numSamples, at: new Date().toISOString() };
      await recordUpload(origin, rec);
      done.set(round.round, rec);
      logRound(round.round, `uploaded ${result.updateHash.slice(0, 10)}… (${result.numSamples} samples, loss ${result.loss.toFixed(4)}); waiting for the verdict`, 'info');
      // An async task may take the update into a later buffer: the next training waits past it.
      after = Math.max(round.round, await follow(client, t, round.round, result.jobId, result.updateHash));
    }
  } catch (e) {
    say('status', explain(e), 'bad');
  } finally {
    await client.close();
    finish();
  }
}

/** Waits for the worker's verdict on one upload and shows it; returns the round (async: buffer) that took it. */
async function follow(client: FederatedClient, t: Task, round: number, jobId: string, updateHash?: string): Promise<number> {
  for (;;) {
    try {
      // An async task accepts into a later buffer (up to maxStaleness on): look there too.
      const d = await client.waitForDecision(t.id, round, { jobId, updateHash }, 120_000, t.async?.maxStaleness ?? 0);
      if (d.status === 'accepted') {
        logRound(round, `accepted (${updateHash ? `${updateHash.slice(0, 10)}…` : jobId})`, 'accepted');
        say('status', `Round ${round}: your update was accepted.`, 'good');
      } else if (d.code === 'ROUND_CLOSED') {
        logRound(round, `missed: the round closed before your update was checked (${d.reason}); the page takes part in the next round`, 'rejected');
        say('status', `Round ${round}: missed, the round closed first; waiting for the next one.`, 'bad');
      } else {
        logRound(round, `rejected: ${d.reason} (${d.code})`, 'rejected');
        say('status', `Round ${round}: your update was rejected: ${d.reason}`, 'bad');
      }
      void refreshRewards();
      return d.status === 'accepted' && d.round !== undefined ? d.round : round;
    } catch (e) {
      const r = await api.getRound(t.id, round).catch(() => null);
      if (r && r.state !== 'open') {
        logRound(round, `the round closed (${r.state}) without a verdict on this upload: it missed the round`, 'rejected');
        return round;
      }
      say('status', `${explain(e)}; still waiting`, 'bad');
      await sleep(3000);
    }
  }
}

function finish(): void {
  state.running = false;
  $('stop').hidden = true;
  updateJoinButton();
}

// --- rewards --------------------------------------------------------------------------------

let lines: RewardLine[] = [];

async function refreshRewards(): Promise<void> {
  const t = state.task;
  const id = state.identity;
  if (!t || !id) return;
  try {
    if (t.privacy === 'private') {
      if (!state.member) return;
      lines = await listPrivateRewards({ api, task: t.id, identity: state.member });
    } else {
      lines = await listRewards({ api, task: t.id, account: id.address });
    }
  } catch (e) {
    say('rewards-status', explain(e), 'bad');
    return;
  }
  const body = $('rewards').querySelector('tbody')!;
  body.replaceChildren(
    ...lines.map((l) => {
      const tr = document.createElement('tr');
      tr.dataset['round'] = String(l.round);
      tr.dataset['claimed'] = String(l.claimed);
      for (const v of [String(l.round), `${formatUnits(l.amount, 18)} tokens`, l.claimed ? 'claimed' : l.claimable ? 'claimable' : 'not claimable yet']) {
        const td = document.createElement('td');
        td.textContent = v;
        tr.append(td);
      }
      return tr;
    }),
  );
  const open = lines.filter((l) => !l.claimed && l.claimable);
  $<HTMLButtonElement>('claim').disabled = open.length === 0;
  say('rewards-status', lines.length ? `${open.length} round(s) to claim.` : 'No rewards yet: they appear once a round you took part in is committed on chain.');
  // A task whose budget is spent keeps training and committing, but its new rounds pay nothing: say so.
  if (BigInt(t.rewards.perRound) > 0n) {
    const left = await budgetLeft({ api, task: t.id }).catch(() => null);
    say('budget-info', left === null ? '' : left === 0n ? 'This task\'s reward budget is spent: its rounds still train and commit, but pay nothing more.' : `Reward budget left: ${formatUnits(left, 18)} tokens (${formatUnits(t.rewards.perRound, 18)} a round).`, left === 0n ? 'bad' : '');
  }
}

function setUpRewards(): void {
  $('refresh-rewards').onclick = () => void refreshRewards();
  $('claim').onclick = async () => {
    const t = state.task;
    const id = state.identity;
    if (!t || !id) return;
    $<HTMLButtonElement>('claim').disabled = true;
    say('rewards-status', 'Claiming…');
    try {
      const onClaimed = (c: { round: number; txHash: string }) => say('rewards-status', `claimed round ${c.round} (tx ${c.txHash.slice(0, 10)}…)`);
      let claimed;
      if (t.privacy === 'private') {
        // The proof names the recipient; the signer only sends (and pays gas), and is visible on chain.
        const to = $<HTMLInputElement>('payout').value.trim();
        if (!isAddress(to)) throw new RewardsError('BAD_RECIPIENT', to ? `${to} is not an address: pay a fresh address (the button) or give one of yours` : 'choose where to pay: a fresh address (the button) keeps the payout unlinked from the account that sends the claim');
        if (!state.member) throw new RewardsError('WRONG_MODE', 'this page has no member identity');
        claimed = await claimPrivateRewards({ api, task: t.id, identity: state.member, recipient: to, signer: id.signer, onClaimed });
      } else {
        claimed = await claimRewards({ api, task: t.id, signer: id.signer, onClaimed });
      }
      await refreshRewards();
      say('rewards-status', `Claimed ${claimed.length} round(s): ${claimed.map((c) => `round ${c.round} tx ${c.txHash}`).join(', ')}`, 'good');
    } catch (e) {
      await refreshRewards();
      say('rewards-status', explain(e), 'bad');
    }
  };
}

// --- start ----------------------------------------------------------------------------------

preferBackend(params.get('backend'));
$('join').onclick = () => void takePart();
$('stop').onclick = async () => {
  state.stop?.abort();
  await setActiveTask(origin, null);
  say('status', 'Stopped: this page will not take part in further rounds.');
};
setUpData();
setUpRewards();
await setUpIdentity();
await setUpMember();
await loadTasks();
