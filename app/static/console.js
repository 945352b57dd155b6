// qreact web console: ask a question, watch the ReAct steps stream in, mark the answer, browse runs.
// Plain JS, no build step. Every piece of server or model text goes into the page through
// textContent (never innerHTML): observations come from the web and must stay inert.
"use strict";

const KEY_STORAGE = "qreact.apiKey";
const READY_RETRY_MS = 2000; // poll /readyz this often while the model loads
const RUNS_LIMIT = 20; // rows in "Recent runs"

const $ = (id) => document.getElementById(id);
const state = { runId: null, controller: null, timer: null };

// ---- HTTP

function apiKey() {
  try {
    return localStorage.getItem(KEY_STORAGE) || "";
  } catch {
    return "";
  }
}

function headers(json) {
  const h = { Accept: json ? "application/json" : "text/event-stream" };
  if (json !== null) h["Content-Type"] = "application/json";
  const key = apiKey();
  if (key) h.Authorization = `Bearer ${key}`;
  return h;
}

async function errorText(response) {
  let detail = `${response.status} ${response.statusText}`;
  try {
    const body = await response.json();
    if (body && (body.message || body.detail)) {
      detail = typeof body.detail === "string" ? body.detail : body.message || JSON.stringify(body.detail);
    }
  } catch {
    /* not JSON: keep the status line */
  }
  if (response.status === 401 || response.status === 403) {
    $("access").open = true;
    $("key-status").textContent = "The server wants an API key: enter it here.";
  }
  return detail;
}

async function getJSON(path) {
  const response = await fetch(path, { headers: headers(null) });
  if (!response.ok) throw new Error(await errorText(response));
  return response.json();
}

async function postJSON(path, body) {
  const response = await fetch(path, { method: "POST", headers: headers(true), body: JSON.stringify(body) });
  if (!response.ok) throw new Error(await errorText(response));
  return response.json();
}

// Server-Sent Events from a fetch() body (EventSource cannot POST). Yields {event, data}.
async function* sseEvents(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let held = "";
    if (buffer.endsWith("\r")) {
      // a CR at a chunk's end may be the first half of CRLF: decide when the next chunk comes
      held = "\r";
      buffer = buffer.slice(0, -1);
    }
    buffer = buffer.replace(/\r\n|\r/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const parsed = parseEventBlock(buffer.slice(0, end));
      buffer = buffer.slice(end + 2);
      if (parsed) yield parsed;
    }
    buffer += held;
  }
  const last = parseEventBlock(buffer.replace(/\r\n|\r/g, "\n").trim());
  if (last) yield last;
}

function parseEventBlock(block) {
  let event = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue; // comments are keep-alive pings
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
  }
  return data.length ? { event, data: data.join("\n") } : null;
}

// ---- rendering helpers

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function ms(value) {
  if (value === undefined || value === null) return "";
  return value >= 1000 ? `${(value / 1000).toFixed(1)} s` : `${Math.round(value)} ms`;
}

function field(list, label, value, className) {
  if (value === undefined || value === null || value === "") return;
  list.append(el("dt", null, label));
  list.append(el("dd", className, value));
}

function renderStep(step) {
  const item = el("li", `step step-${step.kind}`);
  item.dataset.kind = step.kind;
  item.dataset.index = String(step.index);
  const head = el("p", "step-head");
  const what = step.kind === "final" ? "Final answer" : step.kind === "format_error" ? "Malformed step" : step.tool;
  head.append(el("strong", null, `Step ${step.index + 1}`), document.createTextNode(` · ${what || "step"}`));
  const timing = [ms(step.ms)];
  if (step.llm_ms) timing.push(`model ${ms(step.llm_ms)}`);
  if (step.tool_ms) timing.push(`tool ${ms(step.tool_ms)}`);
  if (step.completion_tokens) timing.push(`${step.completion_tokens} tokens`);
  head.append(el("span", "muted timing", timing.filter(Boolean).join(" · ")));
  item.append(head);

  const list = el("dl");
  field(list, "Thought", step.thought);
  if (step.kind !== "final") {
    field(list, "Action", step.tool);
    field(list, "Action Input", step.tool_input, "mono");
    const source = step.observation_source ? ` (${step.observation_source})` : "";
    field(list, `Observation${source}`, step.observation, "observation");
  } else {
    field(list, "Final Answer", step.final_answer, "final");
  }
  item.append(list);
  if (step.log) {
    const raw = el("details", "raw");
    raw.append(el("summary", null, "Model text"), el("pre", null, step.log));
    item.append(raw);
  }
  $("empty").hidden = true;
  $("steps").append(item);
}

function runMeta(run) {
  const parts = [`backend ${run.backend}`, `model ${run.model}`, `adapter ${run.adapter || "none"}`];
  if (run.latency_ms !== undefined) parts.push(`total ${ms(run.latency_ms)}`);
  const usage = run.usage || { total_tokens: (run.prompt_tokens || 0) + (run.completion_tokens || 0) };
  if (usage.total_tokens) parts.push(`${usage.total_tokens} tokens`);
  return parts.join(" · ");
}

function setStatus(text, kind) {
  const node = $("run-status");
  node.textContent = text ? `— ${text}` : "";
  node.dataset.status = kind || "";
}

// ---- grounding: is the answer backed by what the tools returned?

const VERDICTS = {
  supported: ["supported", "Every number and name in the answer is in an observation."],
  unsupported: ["not supported", "Highlighted: what no observation contains. The answer is unverified."],
  not_found: ["not found", "The agent found no answer in its search results."],
};

function verdictOf(run) {
  const g = run.grounding;
  if (!g) return null;
  if (g.not_found || run.status === "not_found") return "not_found";
  if (run.answer === null || run.answer === undefined) return null;
  return g.supported ? "supported" : "unsupported";
}

// The answer as text nodes with each unsupported span in a <mark> (textContent only: never HTML).
function answerNodes(answer, spans) {
  const marks = [];
  for (const span of spans || []) {
    if (!span) continue;
    let at = answer.indexOf(span);
    while (at >= 0) {
      marks.push([at, at + span.length]);
      at = answer.indexOf(span, at + span.length);
    }
  }
  marks.sort((a, b) => a[0] - b[0] || b[1] - a[1]);
  const nodes = [];
  let pos = 0;
  for (const [start, end] of marks) {
    if (start < pos) continue; // overlaps an earlier mark
    if (start > pos) nodes.push(document.createTextNode(answer.slice(pos, start)));
    nodes.push(el("mark", "unsupported", answer.slice(start, end)));
    pos = end;
  }
  if (pos < answer.length) nodes.push(document.createTextNode(answer.slice(pos)));
  return nodes;
}

function showGrounding(run) {
  const verdict = verdictOf(run);
  const box = $("grounding");
  box.hidden = verdict === null;
  for (const node of document.querySelectorAll("#steps .evidence")) node.classList.remove("evidence");
  if (verdict === null) return;
  const [label, text] = VERDICTS[verdict];
  $("grounding-badge").textContent = label;
  $("grounding-badge").dataset.verdict = verdict;
  const evidence = run.grounding.evidence || [];
  const steps = evidence.map((i) => i + 1).join(", ");
  let shown = verdict === "supported" && steps ? `${text} Evidence: step ${steps}.` : text;
  const reasons = run.grounding.supported ? [] : run.grounding.unsupported || [];
  if (verdict === "not_found" && reasons.length) {
    // QREACT_UNGROUNDED=not_found/auto: the model's unsupported answer was replaced; say why
    shown = `The model's answer was not supported (${reasons.join("; ")}), so the not-found answer replaced it. Its own text is in the last step.`;
  }
  if (verdict === "supported" && run.grounding.read_from_documents) {
    // QREACT_GROUNDING_READ_COUNTS: the check read the count from a document sentence (rule G16)
    shown = `Read from the document in step ${steps}: the model's own answer (in the last step) was not supported or said not found.`;
  }
  $("grounding-text").textContent = shown;
  for (const i of evidence) {
    const item = document.querySelector(`#steps li[data-index="${i}"]`);
    if (item) item.classList.add("evidence");
  }
}

function showRun(run) {
  state.runId = run.run_id;
  setStatus(run.status, run.status);
  $("run-meta").textContent = runMeta(run);
  $("answer-card").hidden = false;
  if (run.answer !== null && run.answer !== undefined) {
    const spans = run.grounding && !run.grounding.supported ? run.grounding.unsupported : [];
    $("answer").replaceChildren(...answerNodes(run.answer, spans));
  } else {
    $("answer").textContent = run.error ? `No answer: ${run.error}` : "No answer.";
  }
  $("answer").dataset.status = run.status;
  showGrounding(run);
  $("answer-meta").textContent = `status ${run.status} · run ${run.run_id}`;
  resetFeedback(run.feedback);
}

function resetFeedback(existing) {
  $("correction").hidden = true;
  $("corrected").value = "";
  $("note").value = "";
  for (const id of ["mark-right", "mark-wrong"]) $(id).setAttribute("aria-pressed", "false");
  $("feedback-status").textContent = existing
    ? `Marked ${existing.correct ? "right" : "wrong"}${existing.answer ? ` (correct answer: ${existing.answer})` : ""}.`
    : "";
}

function clearTrace() {
  $("steps").replaceChildren();
  $("empty").hidden = false;
  $("answer-card").hidden = true;
  $("grounding").hidden = true;
  $("run-meta").textContent = "";
  setStatus("");
}

// ---- asking

function busy(on) {
  $("ask").disabled = on;
  $("stop").hidden = !on;
  $("question").setAttribute("aria-busy", String(on));
  clearInterval(state.timer);
  if (on) {
    const started = performance.now();
    state.timer = setInterval(() => setStatus(`running… ${ms(performance.now() - started)}`, "running"), 200);
  }
}

async function ask(event) {
  event.preventDefault();
  const question = $("question").value.trim();
  if (!question) {
    $("question").focus();
    return;
  }
  const body = { question };
  const maxSteps = parseInt($("max-steps").value, 10);
  if (Number.isFinite(maxSteps)) body.max_steps = maxSteps;
  clearTrace();
  busy(true);
  state.controller = new AbortController();
  let finished = false;
  try {
    const response = await fetch("/ask/stream", {
      method: "POST",
      headers: headers(false),
      body: JSON.stringify(body),
      signal: state.controller.signal,
    });
    if (!response.ok) throw new Error(await errorText(response));
    for await (const message of sseEvents(response)) {
      const data = JSON.parse(message.data);
      if (message.event === "step") {
        renderStep(data);
      } else if (message.event === "final") {
        finished = true;
        busy(false);
        showRun(data);
        loadRuns();
      } else if (message.event === "error") {
        throw new Error(data.detail || "the run failed");
      }
    }
    if (!finished) throw new Error("the stream ended before the answer");
  } catch (error) {
    busy(false);
    if (error.name === "AbortError") setStatus("stopped", "error");
    else {
      setStatus(`error: ${error.message}`, "error");
      $("empty").hidden = true;
    }
  } finally {
    busy(false);
    state.controller = null;
  }
}

// ---- feedback

async function sendFeedback(correct) {
  if (!state.runId) return;
  const body = { correct };
  const answer = $("corrected").value.trim();
  const note = $("note").value.trim();
  if (!correct && answer) body.answer = answer;
  if (note) body.note = note;
  $("feedback-status").textContent = "Sending…";
  try {
    await postJSON(`/runs/${encodeURIComponent(state.runId)}/feedback`, body);
    $("feedback-status").textContent = correct
      ? "Thanks: marked right."
      : `Thanks: marked wrong${answer ? ` (correct answer: ${answer})` : ""}.`;
    loadRuns();
  } catch (error) {
    $("feedback-status").textContent = `Feedback not saved: ${error.message}`;
  }
}

function markRight() {
  $("mark-right").setAttribute("aria-pressed", "true");
  $("mark-wrong").setAttribute("aria-pressed", "false");
  $("correction").hidden = true;
  sendFeedback(true);
}

function markWrong() {
  $("mark-wrong").setAttribute("aria-pressed", "true");
  $("mark-right").setAttribute("aria-pressed", "false");
  $("correction").hidden = false;
  $("feedback-status").textContent = "Add the correct answer if you know it, then Send.";
  $("corrected").focus();
}

// ---- recent runs

function runsFrom(data) {
  if (Array.isArray(data)) return data;
  return data.runs || data.items || data.data || [];
}

function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

async function loadRuns() {
  $("runs-status").textContent = "Loading…";
  try {
    const runs = runsFrom(await getJSON(`/runs?limit=${RUNS_LIMIT}`));
    const rows = runs.map((run) => {
      const row = el("tr");
      row.append(el("td", "nowrap", when(run.created_at)));
      const cell = el("td");
      const open = el("button", "link", run.question);
      open.type = "button";
      open.setAttribute("aria-label", `Open run: ${run.question}`);
      open.addEventListener("click", () => openRun(run.run_id));
      cell.append(open);
      const status = el("td", null, run.status);
      const verdict = verdictOf(run);
      if (verdict) {
        const badge = el("span", "badge", VERDICTS[verdict][0]);
        badge.dataset.verdict = verdict;
        status.append(document.createTextNode(" "), badge);
      }
      row.append(cell, el("td", null, run.answer ?? "—"), status);
      row.append(el("td", null, run.adapter || "none"));
      const fb = run.feedback;
      row.append(el("td", null, fb ? (fb.correct ? "right" : "wrong") : "—"));
      return row;
    });
    $("runs").tBodies[0].replaceChildren(...rows);
    $("runs-status").textContent = runs.length ? "" : "No runs yet.";
  } catch (error) {
    $("runs-status").textContent = `Runs unavailable: ${error.message}`;
  }
}

async function openRun(runId) {
  try {
    const run = await getJSON(`/runs/${encodeURIComponent(runId)}`);
    clearTrace();
    for (const step of run.steps || []) renderStep(step);
    showRun(run);
    $("trace-title").scrollIntoView({ behavior: "smooth", block: "start" });
    $("answer-title").focus({ preventScroll: true });
  } catch (error) {
    $("runs-status").textContent = `Could not open the run: ${error.message}`;
  }
}

// ---- server status and key

async function checkServer() {
  const dot = document.querySelector("#server .dot");
  try {
    const response = await fetch("/readyz", { headers: headers(null) });
    const body = await response.json();
    if (response.ok) {
      dot.dataset.state = "ready";
      $("server-text").textContent = `${body.backend} · ${body.model} · adapter ${body.adapter || "none"}`;
      return;
    }
    dot.dataset.state = body.status === "failed" ? "failed" : "loading";
    $("server-text").textContent = body.reason || body.status;
    if (body.status !== "failed") setTimeout(checkServer, READY_RETRY_MS);
  } catch {
    dot.dataset.state = "failed";
    $("server-text").textContent = "Server unreachable; retrying…";
    setTimeout(checkServer, READY_RETRY_MS * 2);
  }
}

function saveKey(event) {
  event.preventDefault();
  try {
    localStorage.setItem(KEY_STORAGE, $("api-key").value.trim());
    $("key-status").textContent = "Saved in this browser.";
  } catch {
    $("key-status").textContent = "This browser does not allow storing the key.";
  }
  loadRuns();
}

function forgetKey() {
  try {
    localStorage.removeItem(KEY_STORAGE);
  } catch {
    /* nothing stored */
  }
  $("api-key").value = "";
  $("key-status").textContent = "Forgotten.";
}

// ---- wiring

document.addEventListener("DOMContentLoaded", () => {
  $("ask-form").addEventListener("submit", ask);
  $("question").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("ask-form").requestSubmit();
    }
  });
  $("stop").addEventListener("click", () => state.controller && state.controller.abort());
  $("mark-right").addEventListener("click", markRight);
  $("mark-wrong").addEventListener("click", markWrong);
  $("feedback-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sendFeedback(false);
  });
  $("refresh-runs").addEventListener("click", loadRuns);
  $("key-form").addEventListener("submit", saveKey);
  $("forget-key").addEventListener("click", forgetKey);
  $("api-key").value = apiKey();
  checkServer();
  loadRuns();
});
