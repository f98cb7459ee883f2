// SPDX-License-Identifier: Apache-2.0
// temporald's Web UI: a single-page application over temporald's HTTP API (/api/v1 on this
// origin, payloads in Temporal's shorthand). Every value shown is put into the page as text
// (textContent, never HTML), so names and payloads holding markup stay text. Routes live in the
// location hash: #/namespaces/NS/workflows, #/namespaces/NS/workflows/ID/RUN,
// #/namespaces/NS/task-queues/NAME.
'use strict';

const $ = (id) => document.getElementById(id);
const state = { ns: 'default', tokens: [], timer: null };

// ---- DOM helpers: text only ----
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'class') e.className = v;
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const k of kids.flat()) {
    if (k == null || k === false) continue;
    e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return e;
}
const enc = encodeURIComponent;
const pretty = (v) => JSON.stringify(v, null, 2);
const pre = (v) => el('pre', {}, typeof v === 'string' ? v : pretty(v));
function kv(pairs) {
  const dl = el('dl', { class: 'kv' });
  for (const [k, v] of pairs) if (v != null && v !== '') dl.append(el('dt', {}, k), el('dd', {}, v));
  return dl;
}
function setMain(...kids) {
  const m = $('main');
  m.replaceChildren(...kids.flat());
}
function crumbs(...parts) {
  $('crumbs').replaceChildren(...parts.flatMap((p, i) => [i ? ' / ' : '', p]));
}

// ---- API ----
async function api(method, path, body) {
  const init = { method, headers: { 'x-td-ui': '1' } };
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch('/api/v1' + path, init);
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : {}; } catch { json = null; }
  if (!res.ok) {
    const e = new Error((json && json.message) || `${res.status} ${text.slice(0, 200)}`);
    e.status = res.status;
    throw e;
  }
  return json;
}

const STATUSES = ['Running', 'Completed', 'Failed', 'Canceled', 'Terminated', 'ContinuedAsNew', 'TimedOut'];
function statusName(s) {
  if (!s) return '';
  const tail = String(s).replace(/^WORKFLOW_EXECUTION_STATUS_/, '').toLowerCase();
  return tail.replace(/(^|_)([a-z])/g, (_m, _u, c) => c.toUpperCase()).replace('ContinuedAsNew', 'ContinuedAsNew');
}
const statusEl = (s) => el('span', { class: `status st-${statusName(s)}` }, statusName(s));
const shortType = (t) => String(t || '').replace(/^EVENT_TYPE_/, '').toLowerCase().replace(/(^|_)([a-z])/g, (_m, _u, c) => c.toUpperCase());
function fmtTime(t) {
  if (!t) return '';
  const d = new Date(t);
  return isNaN(d) ? String(t) : d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}
function duration(a, b) {
  if (!a) return '';
  const ms = (b ? new Date(b) : new Date()) - new Date(a);
  if (!(ms >= 0)) return '';
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 120) return `${s.toFixed(1)} s`;
  if (s < 7200) return `${(s / 60).toFixed(1)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}
const wfHref = (ns, id, run) => `#/namespaces/${enc(ns)}/workflows/${enc(id)}/${enc(run || '')}`;
const tqHref = (ns, tq) => `#/namespaces/${enc(ns)}/task-queues/${enc(tq)}`;
function errorBox(e) {
  return el('p', { class: 'error', role: 'alert' }, `Error: ${e.message || e}`);
}

// ---- dialogs (confirmation and input) ----
function ask({ title, text, fields = [], ok = 'Confirm', danger = true }) {
  const d = $('dlg');
  $('dlg-title').textContent = title;
  $('dlg-text').textContent = text || '';
  $('dlg-error').textContent = '';
  const inputs = {};
  $('dlg-fields').replaceChildren(...fields.map((f) => {
    let input;
    if (f.type === 'select') {
      input = el('select', { name: f.name, id: `f-${f.name}` }, f.options.map((o) => el('option', { value: o.value }, o.label)));
    } else if (f.type === 'textarea') {
      input = el('textarea', { name: f.name, id: `f-${f.name}`, placeholder: f.placeholder || '' });
    } else {
      input = el('input', { type: 'text', name: f.name, id: `f-${f.name}`, placeholder: f.placeholder || '' });
    }
    if (f.value != null) input.value = f.value;
    inputs[f.name] = input;
    return el('label', { for: `f-${f.name}` }, f.label, input);
  }));
  const okBtn = $('dlg-ok');
  okBtn.textContent = ok;
  okBtn.className = danger ? 'danger' : 'primary';
  return new Promise((resolve) => {
    const done = (v) => {
      okBtn.onclick = null;
      $('dlg-cancel').onclick = null;
      d.onclose = null;
      if (d.open) d.close();
      resolve(v);
    };
    okBtn.onclick = (ev) => {
      ev.preventDefault();
      const vals = Object.fromEntries(Object.entries(inputs).map(([k, i]) => [k, i.value]));
      for (const f of fields) {
        if (f.json && vals[f.name].trim() !== '') {
          try { JSON.parse(vals[f.name]); } catch (e) { $('dlg-error').textContent = `${f.label}: not JSON (${e.message})`; return; }
        }
      }
      done(vals);
    };
    $('dlg-cancel').onclick = () => done(null);
    d.onclose = () => done(null);
    d.showModal();
    (Object.values(inputs)[0] || okBtn).focus();
  });
}
const parseArgs = (s) => (s && s.trim() !== '' ? [JSON.parse(s)] : undefined);

// ---- namespaces ----
async function loadNamespaces() {
  try {
    const r = await api('GET', '/namespaces');
    const names = (r.namespaces || []).map((n) => n.namespaceInfo.name).sort();
    $('ns').replaceChildren(...names.map((n) => el('option', { value: n }, n)));
    $('ns').value = state.ns;
  } catch (e) {
    $('ns').replaceChildren(el('option', { value: state.ns }, state.ns));
  }
}

// ---- workflows list ----
function listQuery(params) {
  const parts = [];
  if (params.get('query')) parts.push(`(${params.get('query')})`);
  if (params.get('status')) parts.push(`ExecutionStatus = "${params.get('status')}"`);
  return parts.join(' AND ');
}

async function viewList(ns, params) {
  const q = params.get('query') || '';
  const status = params.get('status') || '';
  const token = params.get('page') || '';
  const qInput = el('input', { type: 'text', id: 'query', value: q, placeholder: 'WorkflowType = "hello" AND StartTime > "2024-01-01T00:00:00Z"', 'aria-label': 'List filter query' });
  const sSelect = el('select', { id: 'status', 'aria-label': 'Status filter' }, el('option', { value: '' }, 'All statuses'), STATUSES.map((s) => el('option', { value: s }, s)));
  sSelect.value = status;
  const go = (extra = {}) => {
    const p = new URLSearchParams();
    const nq = 'query' in extra ? extra.query : qInput.value.trim();
    const ns2 = 'status' in extra ? extra.status : sSelect.value;
    if (nq) p.set('query', nq);
    if (ns2) p.set('status', ns2);
    if (extra.page) p.set('page', extra.page);
    location.hash = `#/namespaces/${enc(ns)}/workflows${p.toString() ? '?' + p : ''}`;
  };
  const auto = el('input', { type: 'checkbox', id: 'auto', checked: state.auto || false });
  auto.addEventListener('change', () => { state.auto = auto.checked; schedule(); });
  const form = el('form', { class: 'bar', onsubmit: (e) => { e.preventDefault(); go({ page: '' }); } },
    qInput, sSelect, el('button', { type: 'submit', class: 'primary' }, 'Search'),
    el('button', { type: 'button', onclick: () => route() }, 'Refresh'),
    el('label', {}, auto, ' Auto-refresh (5 s)'));
  sSelect.addEventListener('change', () => go({ page: '' }));
  const counts = el('div', { class: 'counts', id: 'counts', 'aria-label': 'Counts by status' });
  const body = el('div', { id: 'list' }, el('p', { class: 'muted' }, 'Loading...'));
  const raw = el('details', {}, el('summary', {}, 'JSON'));
  setMain(el('h1', {}, `Workflows in ${ns}`), form, counts, body, raw);
  crumbs(el('a', { href: `#/namespaces/${enc(ns)}/workflows` }, ns), 'Workflows');

  const base = `/namespaces/${enc(ns)}`;
  const query = listQuery(params);
  // counts by status (for the user's query)
  (async () => {
    try {
      const all = await api('GET', `${base}/workflow-count?query=${enc(q ? `(${q})` : '')}`);
      const links = [el('a', { href: '#', class: status ? '' : 'on', onclick: (e) => { e.preventDefault(); go({ status: '', page: '' }); } }, `All: ${all.count || 0}`)];
      const per = await Promise.all(STATUSES.map((s) => api('GET', `${base}/workflow-count?query=${enc([q && `(${q})`, `ExecutionStatus = "${s}"`].filter(Boolean).join(' AND '))}`).catch(() => ({ count: '?' }))));
      STATUSES.forEach((s, i) => links.push(el('a', { href: '#', class: status === s ? 'on' : '', 'data-status': s, onclick: (e) => { e.preventDefault(); go({ status: s, page: '' }); } }, `${s}: ${per[i].count || 0}`)));
      counts.replaceChildren(...links);
    } catch (e) {
      counts.replaceChildren(errorBox(e));
    }
  })();
  try {
    const r = await api('GET', `${base}/workflows?pageSize=50&query=${enc(query)}${token ? `&nextPageToken=${enc(token)}` : ''}`);
    raw.append(pre(r));
    const rows = (r.executions || []).map((w) => el('tr', {},
      el('td', {}, statusEl(w.status)),
      el('td', { class: 'mono' }, el('a', { href: wfHref(ns, w.execution.workflowId, w.execution.runId) }, w.execution.workflowId)),
      el('td', { class: 'mono' }, w.execution.runId),
      el('td', {}, w.type && w.type.name),
      el('td', {}, fmtTime(w.startTime)),
      el('td', {}, fmtTime(w.closeTime)),
      el('td', {}, duration(w.startTime, w.closeTime))));
    const table = rows.length
      ? el('table', { id: 'wf-table' }, el('thead', {}, el('tr', {}, ['Status', 'Workflow ID', 'Run ID', 'Type', 'Start', 'Close', 'Duration'].map((h) => el('th', { scope: 'col' }, h)))), el('tbody', {}, rows))
      : el('p', { class: 'muted', id: 'empty' }, 'No workflows match.');
    const pager = el('div', { class: 'bar' },
      token ? el('button', { type: 'button', onclick: () => go({ page: state.tokens.pop() || '' }) }, 'Previous page') : null,
      r.nextPageToken ? el('button', { type: 'button', id: 'next', onclick: () => { state.tokens.push(token); go({ page: r.nextPageToken }); } }, 'Next page') : null);
    body.replaceChildren(table, pager);
  } catch (e) {
    body.replaceChildren(errorBox(e));
  }
}

// ---- one workflow ----
function attrsOf(ev) {
  const k = Object.keys(ev).find((x) => x.endsWith('EventAttributes'));
  return k ? ev[k] : {};
}
function eventSummary(ev) {
  const a = attrsOf(ev);
  const bits = [];
  for (const key of ['activityType', 'workflowType', 'signalName', 'timerId', 'activityId', 'reason', 'startToFireTimeout', 'identity', 'newExecutionRunId']) {
    const v = a[key];
    if (v == null) continue;
    bits.push(`${key}: ${typeof v === 'object' ? v.name || JSON.stringify(v) : v}`);
  }
  if (a.failure) bits.push(`failure: ${a.failure.message}`);
  if (a.input !== undefined) bits.push(`input: ${JSON.stringify(a.input)}`);
  if (a.result !== undefined) bits.push(`result: ${JSON.stringify(a.result)}`);
  const s = bits.join('  ');
  return s.length > 240 ? s.slice(0, 240) + '...' : s;
}

async function allEvents(ns, id, run) {
  let token = '';
  const events = [];
  for (let i = 0; i < 50; i++) {
    const r = await api('GET', `/namespaces/${enc(ns)}/workflows/${enc(id)}/history?execution.runId=${enc(run)}${token ? `&nextPageToken=${enc(token)}` : ''}`);
    events.push(...((r.history && r.history.events) || []));
    token = r.nextPageToken;
    if (!token) break;
  }
  return events;
}

async function viewWorkflow(ns, id, run, params) {
  const mode = params.get('history') || 'compact';
  crumbs(el('a', { href: `#/namespaces/${enc(ns)}/workflows` }, ns), el('a', { href: `#/namespaces/${enc(ns)}/workflows` }, 'Workflows'), id);
  setMain(el('h1', {}, id), el('p', { class: 'muted' }, 'Loading...'));
  let d, events;
  try {
    d = await api('GET', `/namespaces/${enc(ns)}/workflows/${enc(id)}${run ? `?execution.runId=${enc(run)}` : ''}`);
    run = d.workflowExecutionInfo.execution.runId;
    events = await allEvents(ns, id, run);
  } catch (e) {
    setMain(el('h1', {}, id), errorBox(e));
    return;
  }
  const info = d.workflowExecutionInfo;
  const running = info.status === 'WORKFLOW_EXECUTION_STATUS_RUNNING';
  const first = events[0] ? attrsOf(events[0]) : {};
  const last = events.length ? events[events.length - 1] : null;
  const closeAttrs = !running && last ? attrsOf(last) : null;
  const wfPath = `/namespaces/${enc(ns)}/workflows/${enc(id)}`;
  const exec = { workflowId: id, runId: run };
  const out = el('div', { id: 'action-result' });
  const act = async (label, fn) => {
    try {
      const r = await fn();
      if (r === null) return;
      out.replaceChildren(el('p', { class: 'muted' }, `${label}: done`), r && Object.keys(r).length ? pre(r) : '');
      if (label !== 'Query' && label !== 'Stack trace') setTimeout(route, 300);
    } catch (e) {
      out.replaceChildren(errorBox(e));
    }
  };
  const resetPoints = events.filter((e) => e.eventType === 'EVENT_TYPE_WORKFLOW_TASK_COMPLETED');
  const actions = el('div', { class: 'bar', id: 'actions' },
    el('button', { type: 'button', id: 'act-signal', disabled: !running, onclick: () => act('Signal', async () => {
      const v = await ask({ title: 'Signal workflow', text: id, ok: 'Signal', danger: false, fields: [{ name: 'name', label: 'Signal name' }, { name: 'input', label: 'Input (one JSON value, optional)', type: 'textarea', json: true }] });
      if (!v) return null;
      return api('POST', `${wfPath}/signal/${enc(v.name)}`, { workflowExecution: exec, input: parseArgs(v.input), identity: 'temporald-ui' });
    }) }, 'Signal'),
    el('button', { type: 'button', id: 'act-query', disabled: !running, onclick: () => act('Query', async () => {
      const v = await ask({ title: 'Query workflow', text: id, ok: 'Query', danger: false, fields: [{ name: 'type', label: 'Query type' }, { name: 'args', label: 'Argument (one JSON value, optional)', type: 'textarea', json: true }] });
      if (!v) return null;
      const r = await api('POST', `${wfPath}/query/${enc(v.type)}`, { execution: exec, query: { queryArgs: parseArgs(v.args) } });
      return r.queryResult !== undefined ? { result: r.queryResult } : r;
    }) }, 'Query'),
    el('button', { type: 'button', id: 'act-stack', disabled: !running, onclick: () => act('Stack trace', async () => {
      const r = await api('POST', `${wfPath}/query/__stack_trace`, { execution: exec, query: {} });
      const v = Array.isArray(r.queryResult) ? r.queryResult[0] : r.queryResult;
      out.replaceChildren(el('h2', {}, 'Stack trace'), pre(typeof v === 'string' ? v : pretty(v)));
      return null;
    }) }, 'Stack trace'),
    el('button', { type: 'button', id: 'act-cancel', disabled: !running, onclick: () => act('Cancel', async () => {
      const v = await ask({ title: 'Request cancellation?', text: `The workflow ${id} is asked to cancel.`, ok: 'Request cancellation', fields: [{ name: 'reason', label: 'Reason' }] });
      if (!v) return null;
      return api('POST', `${wfPath}/cancel`, { workflowExecution: exec, reason: v.reason, identity: 'temporald-ui' });
    }) }, 'Cancel'),
    el('button', { type: 'button', id: 'act-terminate', disabled: !running, onclick: () => act('Terminate', async () => {
      const v = await ask({ title: 'Terminate workflow?', text: `${id} stops at once; no workflow code runs.`, ok: 'Terminate', fields: [{ name: 'reason', label: 'Reason' }] });
      if (!v) return null;
      return api('POST', `${wfPath}/terminate`, { workflowExecution: exec, reason: v.reason, identity: 'temporald-ui' });
    }) }, 'Terminate'),
    el('button', { type: 'button', id: 'act-reset', disabled: !resetPoints.length, onclick: () => act('Reset', async () => {
      const v = await ask({ title: 'Reset workflow?', text: 'A new run replays the history up to the chosen point; the current run is terminated.', ok: 'Reset', fields: [
        { name: 'point', label: 'Reset point (workflow task completed)', type: 'select', options: resetPoints.map((e) => ({ value: e.eventId, label: `event ${e.eventId} at ${fmtTime(e.eventTime)}` })) },
        { name: 'reason', label: 'Reason' }] });
      if (!v) return null;
      const r = await api('POST', `${wfPath}/reset`, { workflowExecution: exec, reason: v.reason, workflowTaskFinishEventId: v.point, requestId: crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) });
      if (r.runId) location.hash = wfHref(ns, id, r.runId);
      return r;
    }) }, 'Reset'),
    el('button', { type: 'button', id: 'act-delete', onclick: () => act('Delete', async () => {
      const v = await ask({ title: 'Delete workflow?', text: `The run ${run} of ${id} and its history are deleted.`, ok: 'Delete' });
      if (!v) return null;
      await api('DELETE', `${wfPath}?workflowExecution.runId=${enc(run)}`);
      location.hash = `#/namespaces/${enc(ns)}/workflows`;
      return null;
    }) }, 'Delete'));

  const links = [];
  if (info.parentExecution) links.push(['Parent', el('a', { href: wfHref(ns, info.parentExecution.workflowId, info.parentExecution.runId) }, info.parentExecution.workflowId)]);
  if (first.continuedExecutionRunId) links.push(['Continued from', el('a', { href: wfHref(ns, id, first.continuedExecutionRunId) }, first.continuedExecutionRunId)]);
  if (closeAttrs && closeAttrs.newExecutionRunId) links.push(['Continued as', el('a', { href: wfHref(ns, id, closeAttrs.newExecutionRunId) }, closeAttrs.newExecutionRunId)]);
  if (info.firstRunId && info.firstRunId !== run) links.push(['First run', el('a', { href: wfHref(ns, id, info.firstRunId) }, info.firstRunId)]);

  const summary = el('div', { class: 'panel' }, kv([
    ['Status', statusEl(info.status)],
    ['Type', info.type && info.type.name],
    ['Workflow ID', id],
    ['Run ID', run],
    ['Task queue', el('a', { href: tqHref(ns, info.taskQueue) }, info.taskQueue)],
    ['Start', fmtTime(info.startTime)],
    ['Close', fmtTime(info.closeTime)],
    ['Duration', duration(info.startTime, info.closeTime)],
    ['History', `${info.historyLength} events, ${info.historySizeBytes || 0} bytes`],
    ...links,
  ]));
  const io = el('div', { class: 'panel' },
    el('h2', {}, 'Input'), pre(first.input === undefined ? null : first.input),
    closeAttrs ? [
      el('h2', {}, closeAttrs.failure ? 'Failure' : closeAttrs.result !== undefined ? 'Result' : 'Outcome'),
      el('div', { id: 'outcome' }, pre(closeAttrs.failure || (closeAttrs.result !== undefined ? closeAttrs.result : closeAttrs))),
    ] : null,
    info.memo ? [el('h2', {}, 'Memo'), pre(info.memo.fields || info.memo)] : null,
    info.searchAttributes ? [el('h2', {}, 'Search attributes'), pre(info.searchAttributes.indexedFields || info.searchAttributes)] : null);

  const pend = [];
  if ((d.pendingActivities || []).length) {
    pend.push(el('h2', {}, 'Pending activities'), el('table', { id: 'pending-activities' },
      el('thead', {}, el('tr', {}, ['Activity ID', 'Type', 'State', 'Attempt', 'Last failure', 'Heartbeat details', 'Last heartbeat'].map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, d.pendingActivities.map((a) => el('tr', {},
        el('td', { class: 'mono' }, a.activityId), el('td', {}, a.activityType && a.activityType.name),
        el('td', {}, String(a.state || '').replace(/^PENDING_ACTIVITY_STATE_/, '')), el('td', {}, a.attempt),
        el('td', {}, a.lastFailure ? a.lastFailure.message : ''), el('td', { class: 'mono' }, a.heartbeatDetails ? JSON.stringify(a.heartbeatDetails) : ''),
        el('td', {}, fmtTime(a.lastHeartbeatTime)))))));
  }
  const children = new Map();
  for (const c of d.pendingChildren || []) children.set(c.workflowId, { id: c.workflowId, run: c.runId, type: c.workflowTypeName, state: 'pending' });
  for (const e of events) {
    if (e.eventType === 'EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED') {
      const a = attrsOf(e);
      if (!children.has(a.workflowExecution.workflowId)) children.set(a.workflowExecution.workflowId, { id: a.workflowExecution.workflowId, run: a.workflowExecution.runId, type: a.workflowType && a.workflowType.name, state: 'started' });
    }
  }
  if (children.size) {
    pend.push(el('h2', {}, 'Child workflows'), el('ul', { id: 'children' }, [...children.values()].map((c) => el('li', {}, el('a', { href: wfHref(ns, c.id, c.run) }, c.id), ` ${c.type || ''} (${c.state})`))));
  }

  const histToggle = el('div', { class: 'bar', role: 'group', 'aria-label': 'History view' },
    ['compact', 'full', 'json'].map((m) => el('button', { type: 'button', class: m === mode ? 'primary' : '', 'aria-pressed': m === mode, id: `hist-${m}`, onclick: () => {
      const p = new URLSearchParams(params);
      p.set('history', m);
      location.hash = `${wfHref(ns, id, run)}?${p}`;
    } }, m === 'compact' ? 'Compact' : m === 'full' ? 'Full events' : 'JSON')));
  let hist;
  if (mode === 'json') {
    hist = pre({ events });
  } else if (mode === 'full') {
    hist = el('div', { id: 'history' }, events.map((e) => el('details', {}, el('summary', {}, el('span', { class: 'mono' }, `${e.eventId} `), el('span', { class: 'ev-type' }, shortType(e.eventType)), ` ${fmtTime(e.eventTime)}`), pre(attrsOf(e)))));
  } else {
    hist = el('table', { id: 'history' }, el('thead', {}, el('tr', {}, ['ID', 'Time', 'Event', 'Details'].map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, events.map((e) => el('tr', {}, el('td', { class: 'mono' }, e.eventId), el('td', {}, fmtTime(e.eventTime)), el('td', { class: 'ev-type' }, shortType(e.eventType)), el('td', { class: 'mono' }, eventSummary(e))))));
  }
  setMain(el('h1', {}, id), actions, out, el('div', { class: 'cols' }, summary, io), pend,
    el('h2', {}, `History (${events.length} events)`), histToggle, hist,
    el('details', {}, el('summary', {}, 'JSON of this workflow (DescribeWorkflowExecution)'), pre(d)));
}

// ---- task queue ----
async function viewTaskQueue(ns, tq) {
  crumbs(el('a', { href: `#/namespaces/${enc(ns)}/workflows` }, ns), 'Task queue', tq);
  setMain(el('h1', {}, `Task queue ${tq}`), el('p', { class: 'muted' }, 'Loading...'));
  const parts = [el('h1', {}, `Task queue ${tq}`)];
  for (const [label, type] of [['Workflow pollers', 'TASK_QUEUE_TYPE_WORKFLOW'], ['Activity pollers', 'TASK_QUEUE_TYPE_ACTIVITY']]) {
    try {
      const r = await api('GET', `/namespaces/${enc(ns)}/task-queues/${enc(tq)}?taskQueueType=${type}`);
      const pollers = r.pollers || [];
      parts.push(el('h2', {}, `${label} (${pollers.length})`), pollers.length
        ? el('table', { class: 'pollers' }, el('thead', {}, el('tr', {}, ['Identity', 'Last access', 'Rate per second'].map((h) => el('th', { scope: 'col' }, h)))),
          el('tbody', {}, pollers.map((p) => el('tr', {}, el('td', { class: 'mono' }, p.identity), el('td', {}, fmtTime(p.lastAccessTime)), el('td', {}, p.ratePerSecond)))))
        : el('p', { class: 'muted' }, 'No pollers seen recently.'),
      el('details', {}, el('summary', {}, 'JSON'), pre(r)));
    } catch (e) {
      parts.push(el('h2', {}, label), errorBox(e));
    }
  }
  setMain(parts);
}

// ---- routing ----
function schedule() {
  clearTimeout(state.timer);
  if (state.auto && /\/workflows(\?|$)/.test(location.hash)) state.timer = setTimeout(route, 5000);
}

async function route() {
  clearTimeout(state.timer);
  const h = location.hash.replace(/^#/, '') || '/';
  const [path, qs] = h.split('?');
  const params = new URLSearchParams(qs || '');
  const seg = path.split('/').filter(Boolean).map(decodeURIComponent);
  if (seg[0] !== 'namespaces' || !seg[1]) {
    location.replace(`#/namespaces/${enc(state.ns)}/workflows`);
    return;
  }
  if (state.ns !== seg[1]) {
    state.ns = seg[1];
    state.tokens = [];
  }
  $('ns').value = state.ns;
  if (seg[2] === 'workflows' && seg[3]) await viewWorkflow(seg[1], seg[3], seg[4] || '', params);
  else if (seg[2] === 'task-queues' && seg[3]) await viewTaskQueue(seg[1], seg[3]);
  else await viewList(seg[1], params);
  document.title = `temporald: ${seg.slice(1).join(' / ')}`;
  schedule();
}

$('ns').addEventListener('change', () => { location.hash = `#/namespaces/${enc($('ns').value)}/workflows`; });
window.addEventListener('hashchange', route);
loadNamespaces().then(route);
