/* The manager console's wiring: it loads from the API into the store, sends
   what the manager does, hands the live events to the store, and binds the
   page's controls. The state is the store's (store.js), the drawing the
   views' (views.js); nothing here keeps state of its own beyond timers.

   The reply box holds a draft per ticket: the text, and the files to send
   with it (picked, dropped or pasted), each checked against the limits as it
   comes and marked refused, with the reason in words, when the client or
   the server refuses it; the others and the text are always kept. With the
   Note toggle on, the box writes a private note instead (never to the user). */

import { Api, ApiError, newKey } from "./api.js";
import { LiveConnection } from "./connection.js";
import { IMAGE_TYPES, Media } from "./media.js";
import { S, config, fmt, me, protocol } from "./config.js";
import { Store, TABS } from "./store.js";
import { Views, editable, el, pickerItems, show } from "./views.js";
import { Alerts } from "./alerts.js";
import "./telegram.js";

const api = new Api(config.api);
const media = new Media(S, document.documentElement.lang);
const store = new Store(window.localStorage);
const views = new Views(store, media);
const alerts = new Alerts(store, { me, onOpen: (id) => { window.location.hash = `ticket-${id}`; } });
const PAGE = 50;
const NOTES_PAGE = 200;

/** A refusal in words: the server's own (translated) detail, or ours. */
function errorText(error) {
  if (!(error instanceof ApiError) || error.status === 0) return S.network_error;
  if (error.status === 429) return fmt(S.rate_limited, { seconds: error.retryAfter || 1 });
  if (error.status >= 500) return S.server_error;
  if (error.status === 401) return S.signed_out;
  if (error.code === "too_many_files") return fmt(S.too_many_files, { limit: config.maxAttachments });
  if (error.status === 413 && !error.detail) return S.request_too_large; // a proxy's 413
  const fields = error.errors ? Object.values(error.errors).flat() : [];
  return [error.detail || error.code, ...fields].join(" ");
}

// ---- tickets -----------------------------------------------------------------

const refreshing = new Map(); // ticket id -> {timer, again}
/** Fetch one ticket again (its unread count, its manager's name), at most once at a time. */
function refreshTicket(id) {
  const running = refreshing.get(id);
  if (running) {
    running.again = true; // what we fetch now may be older than what made us ask
    return;
  }
  const entry = { again: false };
  refreshing.set(id, entry);
  setTimeout(async () => {
    const since = store.now();
    let dropped = false;
    try {
      const { data } = await api.get(`tickets/${id}/`);
      dropped = !store.upsert(data, since);
    } catch (error) {
      if (error.status === 404) store.forget(id);
    } finally {
      refreshing.delete(id);
      if (entry.again || dropped) refreshTicket(id);
    }
  }, 150);
}

/** Events that change what the stats page counts. */
const COUNTED = new Set([
  protocol.events.ticket_created, protocol.events.ticket_resolved, protocol.events.ticket_reopened,
  protocol.events.ticket_rated, protocol.events.ticket_message_new, protocol.events.ticket_message_deleted,
].filter(Boolean));

function applyEvent(event) {
  const todo = store.applyEvent(event);
  for (const id of todo.refresh) refreshTicket(id);
  if (event.type === protocol.events.ticket_message_new) {
    const thread = store.thread;
    if (thread && thread.id === event.message.ticket) markViewedSoon();
  }
  if (event.type === protocol.events.ticket_message_edited) {
    const thread = store.thread;
    if (thread && thread.history && thread.history.id === event.message.id) loadHistory(thread, event.message.id);
  }
  if (todo.block !== undefined && store.contact) loadBlock(store.contact);
  if (store.view === "stats" && COUNTED.has(event.type)) refreshStats();
  if (todo.counts) refreshCounts();
  alerts.consider(todo.alert);
}

// ---- loading -----------------------------------------------------------------

let listGeneration = 0;
async function loadTab({ more = false } = {}) {
  const generation = more ? listGeneration : ++listGeneration;
  store.listStarted(more);
  el.panel.setAttribute("aria-busy", "true");
  const params = Object.assign({}, TABS[store.tab].params, {
    search: store.search.trim(), ordering: "-id", limit: PAGE, offset: store.listed,
  });
  const since = store.now();
  try {
    const { data, response } = await api.get("tickets/", params);
    if (generation !== listGeneration) return;
    store.listLoaded(data, Number(response.headers.get("X-Total-Count")), since);
  } catch (error) {
    if (generation === listGeneration) views.notice(errorText(error));
  } finally {
    if (generation === listGeneration) el.panel.setAttribute("aria-busy", "false");
    store.changed("list");
  }
}

let countsTimer = null;
function refreshCounts() {
  clearTimeout(countsTimer);
  countsTimer = setTimeout(loadCounts, 300);
}

async function loadCounts() {
  await Promise.all(Object.entries(TABS).map(async ([name, tab]) => {
    try {
      const { response } = await api.get("tickets/", Object.assign({ limit: 1 }, tab.params));
      store.setCount(name, Number(response.headers.get("X-Total-Count")));
    } catch (error) {
      /* keep the last count; the next event refreshes it */
    }
  }));
  store.changed("counts");
}

async function openTicket(id) {
  if (store.thread && store.thread.id === id) return;
  saveDraft();
  const thread = store.openThread(id);
  document.body.classList.add("show-ticket");
  el.text.value = (store.drafts.get(id) || {}).text || "";
  show(el.replyError, "");
  show(el.actionError, "");
  views.renderThread();
  const since = store.now();
  const ticket = store.tickets.get(id);
  const loads = [loadMessages(thread)];
  if (config.features.notes) loads.push(loadNotes(thread));
  if (ticket) loadContact(ticket);
  else loads.push(api.get(`tickets/${id}/`).then(({ data }) => {
    if (!store.upsert(data, since)) refreshTicket(id);
    const known = store.tickets.get(id);
    if (known && store.thread === thread) loadContact(known);
  }, (error) => {
    if (store.thread === thread) show(el.actionError, errorText(error));
  }));
  await Promise.all(loads);
}

async function loadMessages(thread) {
  const id = thread.id;
  try {
    // Oldest first (the API's default is 1.2.0's newest first).
    let { data, response } = await api.get(`tickets/${id}/messages/`, {
      ordering: "created_at", limit: PAGE,
    });
    let total = Number(response.headers.get("X-Total-Count"));
    if (total > PAGE) {
      // The newest page; older ones load when scrolling up.
      ({ data, response } = await api.get(`tickets/${id}/messages/`, {
        ordering: "created_at", limit: PAGE, offset: total - PAGE,
      }));
      total = Number(response.headers.get("X-Total-Count"));
    }
    if (!store.threadLoaded(thread, data, { total, first: Math.max(0, total - data.length) })) return;
    views.renderThread({ bottom: true });
    markViewedSoon();
  } catch (error) {
    if (store.thread === thread) show(el.actionError, errorText(error));
  }
}

/** The ticket's notes, newest page (a ticket rarely has more). */
async function loadNotes(thread) {
  try {
    const { data } = await api.get(`tickets/${thread.id}/notes/`, {
      ordering: "-created_at", limit: NOTES_PAGE,
    });
    const notes = Array.isArray(data) ? data : (data && data.results) || [];
    if (store.notesLoaded(thread, notes)) views.renderThread({ bottom: true });
  } catch (error) {
    /* a server without notes: the timeline has messages only */
  }
}

/** The contact panel's other tickets of this user, and whether they are blocked. */
async function loadContact(ticket) {
  if (!ticket.user) return;
  const contact = store.contactFor(ticket.user.telegram_id);
  if (config.features.users && contact.block === undefined) loadBlock(contact);
  if (contact.tickets) return;
  try {
    const { data } = await api.get("tickets/", {
      user_id: ticket.user.telegram_id, ordering: "-id", limit: PAGE,
    });
    store.contactLoaded(contact, Array.isArray(data) ? data : data.results || []);
  } catch (error) {
    store.contactLoaded(contact, []);
  }
}

/** GET users/{id}/: the block's reason, by whom and since when (null: not blocked). */
async function loadBlock(contact) {
  try {
    const { data } = await api.get(`users/${contact.userId}/`);
    if (store.setContact(contact, { block: data.block || null })) store.updateUser(data.user);
  } catch (error) {
    /* the panel shows what the tickets say (user.blocked); tried again on the next open */
  }
}

// ---- blocking ------------------------------------------------------------------

function openBlockForm() {
  const contact = store.contact;
  if (!contact) return;
  el.blockReason.value = "";
  store.setContact(contact, { form: { busy: false, error: "" }, error: "" });
  views.renderContact(); // at once, so the box can take the focus
  el.blockReason.focus();
}

function closeBlockForm() {
  const contact = store.contact;
  if (!contact) return;
  store.setContact(contact, { form: null });
  views.renderContact();
  el.blockOpen.focus();
}

async function block() {
  const contact = store.contact;
  if (!contact || !contact.form || contact.form.busy) return;
  const reason = el.blockReason.value.trim();
  if (!reason) {
    store.setContact(contact, { form: { busy: false, error: S.block_reason_needed } });
    el.blockReason.focus();
    return;
  }
  store.setContact(contact, { form: { busy: true, error: "" } });
  try {
    const { data } = await api.post(`users/${contact.userId}/block/`, { reason });
    store.setContact(contact, { block: data.block || null, form: null });
    store.updateUser(data.user);
    views.renderContact();
    if (store.contact === contact) el.unblock.focus();
  } catch (error) {
    store.setContact(contact, { form: { busy: false, error: errorText(error) } });
  }
}

async function unblock() {
  const contact = store.contact;
  if (!contact || contact.busy) return;
  store.setContact(contact, { busy: true, error: "" });
  try {
    const { data } = await api.post(`users/${contact.userId}/unblock/`, {});
    store.setContact(contact, { block: data.block || null, busy: false });
    store.updateUser(data.user);
    views.renderContact();
    if (store.contact === contact) el.blockOpen.focus();
  } catch (error) {
    store.setContact(contact, { busy: false, error: errorText(error) });
  }
}

// ---- editing and deleting the manager's own replies, the edit history -----------

function messageUrl(thread, id) {
  return `tickets/${thread.id}/messages/${id}/`;
}

function startEdit(id) {
  const thread = store.thread;
  const message = thread && thread.messages.get(id);
  if (!message || !editable(message)) return;
  store.setThreadState(thread, { editing: { id, busy: false, error: "" }, deleting: null });
  views.renderThread();
  const editor = views.editor;
  if (editor) {
    editor.textarea.focus();
    const end = editor.textarea.value.length;
    editor.textarea.setSelectionRange(end, end);
  }
}

function cancelEdit() {
  const thread = store.thread;
  if (!thread || !thread.editing) return;
  const id = thread.editing.id;
  store.setThreadState(thread, { editing: null });
  views.renderThread();
  const again = el.messages.querySelector(`[data-edit="${id}"]`);
  (again || el.text).focus();
}

async function saveEdit() {
  const thread = store.thread;
  const editing = thread && thread.editing;
  const editor = views.editor;
  if (!editing || editing.busy || !editor) return;
  const message = thread.messages.get(editing.id);
  const text = editor.textarea.value;
  if (!message) return;
  if (text === message.text) {
    cancelEdit();
    return;
  }
  const fail = (words) => store.setThreadState(thread, { editing: Object.assign({}, editing, { busy: false, error: words }) });
  if (!text.trim() && !(message.attachments || []).length) {
    fail(S.edit_empty);
    return;
  }
  if (text.length > config.maxTextLength) {
    fail(fmt(S.too_long, { over: text.length - config.maxTextLength }));
    return;
  }
  store.setThreadState(thread, { editing: Object.assign({}, editing, { busy: true, error: "" }) });
  try {
    const { data } = await api.patch(messageUrl(thread, editing.id), { text });
    store.applyEdit(data);
    if (store.thread === thread && thread.editing && thread.editing.id === editing.id) cancelEdit();
  } catch (error) {
    if (thread.editing && thread.editing.id === editing.id) fail(errorText(error));
  }
}

function askDelete(id) {
  const thread = store.thread;
  if (!thread) return;
  store.setThreadState(thread, { deleting: { id, busy: false, error: "" }, editing: null });
  views.renderThread();
  const yes = el.messages.querySelector("[data-confirm-delete]");
  if (yes) yes.focus();
}

function cancelDelete() {
  const thread = store.thread;
  if (!thread || !thread.deleting) return;
  const id = thread.deleting.id;
  store.setThreadState(thread, { deleting: null });
  views.renderThread();
  const again = el.messages.querySelector(`[data-delete="${id}"]`);
  (again || el.text).focus();
}

async function deleteMessage() {
  const thread = store.thread;
  const deleting = thread && thread.deleting;
  if (!deleting || deleting.busy) return;
  store.setThreadState(thread, { deleting: Object.assign({}, deleting, { busy: true, error: "" }) });
  try {
    await api.delete(messageUrl(thread, deleting.id));
    if (store.applyDelete(thread.id, deleting.id)) refreshTicket(thread.id);
    el.text.focus();
  } catch (error) {
    if (thread.deleting && thread.deleting.id === deleting.id) {
      store.setThreadState(thread, { deleting: Object.assign({}, deleting, { busy: false, error: errorText(error) }) });
    }
  }
}

function toggleHistory(id) {
  const thread = store.thread;
  if (!thread) return;
  if (thread.history && thread.history.id === id) {
    store.setThreadState(thread, { history: null });
    return;
  }
  store.setThreadState(thread, { history: { id, entries: null, error: "" } });
  loadHistory(thread, id);
}

async function loadHistory(thread, id) {
  try {
    const { data } = await api.get(`${messageUrl(thread, id)}edits/`);
    const entries = Array.isArray(data) ? data : (data && data.results) || [];
    if (thread.history && thread.history.id === id) store.setThreadState(thread, { history: { id, entries, error: "" } });
  } catch (error) {
    if (thread.history && thread.history.id === id) {
      store.setThreadState(thread, { history: { id, entries: null, error: errorText(error) } });
    }
  }
}

function closeHistory() {
  const thread = store.thread;
  if (!thread || !thread.history) return;
  const id = thread.history.id;
  store.setThreadState(thread, { history: null });
  views.renderThread();
  const label = el.messages.querySelector(`[data-history="${id}"]`);
  if (label) label.focus();
}

// ---- the stats page ------------------------------------------------------------

let statsGeneration = 0;
async function loadStats() {
  const generation = ++statsGeneration;
  const days = store.stats.days;
  store.setStats({ loading: true });
  try {
    const { data } = await api.get("stats/", { days });
    if (generation === statsGeneration) store.setStats({ data, error: "", loading: false });
  } catch (error) {
    if (generation === statsGeneration) store.setStats({ error: errorText(error), loading: false });
  }
}

let statsTimer = null;
function refreshStats() {
  clearTimeout(statsTimer);
  statsTimer = setTimeout(() => { if (store.view === "stats") loadStats(); }, 1500);
}

function showStats() {
  if (store.thread) closeTicket();
  const first = store.view !== "stats";
  store.showView("stats");
  loadStats();
  if (first) setTimeout(() => el.stats.focus({ preventScroll: true }), 0);
}

let loadingOlder = false;
async function loadOlder() {
  const thread = store.thread;
  if (!thread || thread.first === 0 || loadingOlder) return;
  loadingOlder = true;
  const offset = Math.max(0, thread.first - PAGE);
  try {
    const { data } = await api.get(`tickets/${thread.id}/messages/`, {
      ordering: "created_at", limit: thread.first - offset, offset,
    });
    if (!store.threadLoaded(thread, data, { first: offset })) return;
    views.renderThread({ keepPosition: true });
  } catch (error) {
    show(el.actionError, errorText(error));
  } finally {
    loadingOlder = false;
  }
}

function closeTicket() {
  saveDraft();
  store.closeThread();
  document.body.classList.remove("show-ticket");
}

/** After a stream reset (or our cursor was refused): everything again from the server.
    The connection awaits this before it hands on the events that follow. */
async function reloadAll() {
  views.notice(S.stream_reset);
  saveDraft();
  const open = store.reset();
  await Promise.all([loadTab(), loadCounts(), open ? openTicket(open) : null]);
}

// ---- actions -----------------------------------------------------------------

async function act(action, button) {
  const thread = store.thread;
  if (!thread) return;
  show(el.actionError, "");
  button.disabled = true;
  const since = store.now();
  try {
    const { data } = await api.post(`tickets/${thread.id}/${action}/`);
    // At once, unless the event already told us more; the event refreshes the counts.
    if (!store.upsert(data, since)) refreshTicket(thread.id);
  } catch (error) {
    show(el.actionError, errorText(error));
  } finally {
    button.disabled = false;
    store.changed("head");
  }
}

function saveDraft() {
  if (!store.thread) return;
  store.saveText(store.thread.id, el.text.value);
}

// ---- files to send -------------------------------------------------------------

let fileIds = 0;

/** Files picked, dropped or pasted, added to the open ticket's draft, each checked. */
function addFiles(files, { pasted = false } = {}) {
  const thread = store.thread;
  if (!thread || !files.length) return;
  if (store.uploading(thread.id)) return; // the draft is on its way
  const draft = store.draftOf(thread.id);
  if (draft.note) return; // a note is text only
  draft.text = el.text.value;
  const problems = [];
  for (const file of files) {
    if (sendable(draft).length >= config.maxAttachments) {
      problems.push(fmt(S.too_many_files, { limit: config.maxAttachments }));
      break;
    }
    const name = uniqueName(draft, pasted ? pastedName(file) : file.name || "file");
    const entry = { id: ++fileIds, file, name, preview: null, refused: null };
    if (file.size === 0) refuse(entry, "empty_file");
    else if (file.size > config.maxAttachmentSize) refuse(entry, "too_large");
    else if (IMAGE_TYPES.includes(file.type)) entry.preview = URL.createObjectURL(file);
    draft.files.push(entry);
    if (entry.refused) problems.push(entry.refused.text);
  }
  show(el.replyError, problems.join(" "));
  views.renderFiles(); // at once: the chips (and their previews) show as the files come
}

function removeFile(id) {
  const thread = store.thread;
  if (!thread) return;
  const draft = store.draftOf(thread.id);
  const index = draft.files.findIndex((entry) => entry.id === id);
  if (index < 0) return;
  forget(draft.files[index]);
  draft.files.splice(index, 1);
  if (!draft.files.some((entry) => entry.refused)) show(el.replyError, "");
  views.renderFiles();
  // Keep the keyboard where it was: the next chip's button, or the reply box.
  const next = el.pending.querySelectorAll(".chip-remove")[Math.min(index, draft.files.length - 1)];
  (next || el.text).focus();
}

function forget(entry) {
  if (entry.preview) URL.revokeObjectURL(entry.preview);
  entry.preview = null;
}

function sendable(draft) {
  return draft.files.filter((entry) => !entry.refused);
}

/** Marks *entry* refused for *code* (as the server's refusals name them), in words. */
function refuse(entry, code) {
  const name = entry.name;
  const refusals = {
    too_large: [S.reason_too_large, fmt(S.file_too_large, {
      name, size: media.size(entry.file.size), limit: media.size(config.maxAttachmentSize),
    })],
    empty_file: [S.reason_empty, fmt(S.file_empty, { name })],
    unsupported_type: [S.reason_unsupported, fmt(S.file_unsupported, { name })],
  };
  const [reason, text] = refusals[code];
  forget(entry);
  entry.refused = { code, reason, text };
  return entry.refused.text;
}

/** The file a server refusal names (its detail quotes the name), or the only one sent. */
function refusedFile(error, files) {
  if (!["too_large", "empty_file", "unsupported_type"].includes(error.code)) return null;
  const detail = error.detail || "";
  const named = files.filter((entry) => {
    const name = entry.name.slice(0, 100);
    return detail.includes(`'${name}'`) || detail.includes(`"${name}"`);
  });
  if (named.length === 1) return named[0];
  return files.length === 1 ? files[0] : null;
}

/** A pasted screenshot's name: the browser calls every one "image.png". */
function pastedName(file) {
  if (file.name && file.name !== "image.png") return file.name;
  const ext = { "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp" }[file.type] || "png";
  const now = new Date();
  const two = (n) => String(n).padStart(2, "0");
  const date = `${now.getFullYear()}-${two(now.getMonth() + 1)}-${two(now.getDate())}`;
  const time = `${two(now.getHours())}${two(now.getMinutes())}${two(now.getSeconds())}`;
  return `screenshot-${date}-${time}.${ext}`;
}

/** *name*, or "name (2).ext" when the draft already has a file of that name. */
function uniqueName(draft, name) {
  const taken = new Set(draft.files.map((entry) => entry.name));
  if (!taken.has(name)) return name;
  const dot = name.lastIndexOf(".");
  const [stem, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ""];
  for (let n = 2; ; n += 1) {
    const candidate = `${stem} (${n})${ext}`;
    if (!taken.has(candidate)) return candidate;
  }
}

// ---- sending -------------------------------------------------------------------

function busy(on, label) {
  el.send.disabled = on;
  if (on) el.send.textContent = label;
  else views.renderMode();
}

async function send() {
  const thread = store.thread;
  const text = el.text.value;
  if (!thread || el.send.disabled) return;
  const draft = store.draftOf(thread.id);
  if (draft.note) {
    await saveNote(thread, draft, text);
    return;
  }
  const files = sendable(draft);
  if (!text.trim() && !files.length) {
    if (!draft.files.length) store.drafts.delete(thread.id);
    return;
  }
  if (text.length > config.maxTextLength) return; // the counter says by how much
  // One idempotency key per text and files: a retry after a network error
  // cannot post twice, and an edited text or another file is a new message.
  const content = [text, ...files.map((entry) => entry.id)].join("\u0000");
  if (!draft.key || draft.sent !== content) {
    draft.key = newKey();
    draft.sent = content;
  }
  draft.text = text;
  show(el.replyError, "");
  busy(true, S.sending);
  try {
    let data;
    if (files.length) {
      const form = new FormData();
      form.append("text", text);
      form.append("idempotency_key", draft.key);
      for (const entry of files) form.append("files", entry.file, entry.name);
      const upload = { ticket: thread.id, controller: new AbortController(), sent: 0, total: null };
      store.setUpload(upload);
      ({ data } = await api.upload(`tickets/${thread.id}/messages/`, form, {
        signal: upload.controller.signal,
        onProgress(sent, total) {
          upload.sent = sent;
          upload.total = total;
          views.renderProgress();
        },
      }));
    } else {
      ({ data } = await api.post(`tickets/${thread.id}/messages/`, {
        text, idempotency_key: draft.key,
      }));
    }
    store.dropDraft(thread.id, forget);
    if (store.thread && store.thread.id === thread.id) {
      el.text.value = "";
      views.renderCounter();
    }
    store.applyMessage(data);
  } catch (error) {
    let words;
    if (error.name === "AbortError") {
      words = S.cancelled;
    } else {
      const refused = refusedFile(error, files);
      words = refused ? refuse(refused, error.code) : errorText(error);
    }
    if (store.thread && store.thread.id === thread.id) show(el.replyError, words);
  } finally {
    store.setUpload(null);
    busy(false);
  }
}

/** The box in Note mode: a private note on the ticket (the user never sees it). */
async function saveNote(thread, draft, text) {
  if (!text.trim() || text.length > config.maxTextLength) return;
  show(el.replyError, "");
  busy(true, S.saving);
  try {
    const { data } = await api.post(`tickets/${thread.id}/notes/`, { text });
    draft.text = "";
    if (store.thread === thread) {
      el.text.value = "";
      views.renderCounter();
    }
    store.applyNote(data);
  } catch (error) {
    if (store.thread === thread) show(el.replyError, errorText(error));
  } finally {
    busy(false);
  }
}

let viewedTimer = null;
function markViewedSoon() {
  clearTimeout(viewedTimer);
  viewedTimer = setTimeout(markViewed, 300);
}

async function markViewed() {
  const thread = store.thread;
  if (!thread || document.visibilityState !== "visible") return;
  // Another manager's ticket: theirs to mark seen (the server refuses us).
  const ticket = store.tickets.get(thread.id);
  if (ticket && ticket.support_manager && ticket.support_manager.id !== me.id) return;
  const unseen = Array.from(thread.messages.values())
    .filter((m) => m.sender === protocol.senders.user && !m.viewed);
  if (!unseen.length) return;
  const upTo = Math.max(...unseen.map((m) => m.id));
  try {
    const { data } = await api.post(`tickets/${thread.id}/messages/viewed/`, { up_to: upTo });
    // The ticket's unread count follows with the ticket.messages.viewed event.
    store.markViewed(thread.id, data.map((m) => m.id));
  } catch (error) {
    /* tried again with the next message or visit */
  }
}

// ---- saved replies ("/" in the reply box) ---------------------------------------

let repliesLoading = null;
function loadSavedReplies() {
  if (!repliesLoading) {
    repliesLoading = api.get("saved-replies/").then(({ data }) => {
      store.setSavedReplies(Array.isArray(data) ? data : (data && data.results) || []);
    }, () => {
      repliesLoading = null; // asked again next time
      store.setSavedReplies([]);
    });
  }
  return repliesLoading;
}

/** The "/query" the caret is in: a "/" at the start of the box or after a space. */
function slashQuery() {
  const value = el.text.value;
  const caret = el.text.selectionStart;
  if (caret !== el.text.selectionEnd) return null;
  const before = value.slice(0, caret);
  const match = /(^|\s)\/([a-z0-9_-]{0,32})$/i.exec(before);
  if (!match) return null;
  return { query: match[2].toLowerCase(), start: caret - match[2].length - 1, end: caret };
}

function updatePicker() {
  const found = config.features.savedReplies ? slashQuery() : null;
  if (!found) {
    if (store.picker) store.setPicker(null);
    return;
  }
  loadSavedReplies();
  const same = store.picker && store.picker.query === found.query;
  store.setPicker({ query: found.query, index: same ? store.picker.index : 0, start: found.start, end: found.end });
}

/** The reply's text with {first_name} and {manager} filled in. */
function fillReply(text) {
  const ticket = store.thread && store.tickets.get(store.thread.id);
  const user = ticket && ticket.user;
  const values = {
    first_name: (user && (user.first_name || (user.username ? "@" + user.username : ""))) || "",
    manager: me.name,
  };
  return text.replace(/\{(first_name|manager)\}/g, (_, name) => values[name]);
}

function choose(reply) {
  const picker = store.picker;
  if (!picker || !reply) return;
  const value = el.text.value;
  const text = fillReply(reply.text);
  el.text.value = value.slice(0, picker.start) + text + value.slice(picker.end);
  const caret = picker.start + text.length;
  el.text.setSelectionRange(caret, caret);
  store.setPicker(null);
  views.renderCounter();
  el.text.focus();
}

/** Arrows, Enter, Tab and Escape while the picker is open; true when the key was its. */
function pickerKey(event) {
  const picker = store.picker;
  if (!picker) return false;
  const items = pickerItems(store);
  if (event.key === "Escape") {
    store.setPicker(null);
    return true;
  }
  if (!items.length) return false;
  if (event.key === "ArrowDown" || event.key === "ArrowUp") {
    const step = event.key === "ArrowDown" ? 1 : -1;
    const index = (Math.min(picker.index, items.length - 1) + step + items.length) % items.length;
    store.setPicker(Object.assign({}, picker, { index }));
    return true;
  }
  if ((event.key === "Enter" && !event.shiftKey) || event.key === "Tab") {
    choose(items[Math.min(picker.index, items.length - 1)]);
    return true;
  }
  return false;
}

// ---- binding ---------------------------------------------------------------------

function selectTab(name, focus) {
  if (!store.selectTab(name)) return;
  if (focus) el.tabs.find((t) => t.dataset.tab === name).focus();
  loadTab();
}

function route() {
  if (window.location.hash === "#stats" && config.features.stats) {
    showStats();
    return;
  }
  store.showView("desk");
  const match = /^#ticket-(\d+)$/.exec(window.location.hash);
  if (match) openTicket(Number(match[1]));
  else if (store.thread) closeTicket();
}

function bind() {
  for (const tab of el.tabs) {
    tab.addEventListener("click", () => selectTab(tab.dataset.tab));
    tab.addEventListener("keydown", (event) => {
      const names = el.tabs.map((t) => t.dataset.tab);
      const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
      if (step) {
        event.preventDefault();
        const next = names[(names.indexOf(store.tab) + step + names.length) % names.length];
        selectTab(next, true);
      }
    });
  }
  let searchTimer = null;
  el.search.addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => {
      store.setSearch(el.search.value);
      loadTab();
    }, 250);
  });
  document.getElementById("search-form").addEventListener("submit", (event) => event.preventDefault());
  el.more.addEventListener("click", () => loadTab({ more: true }));
  document.querySelector(".back").addEventListener("click", (event) => {
    event.preventDefault();
    history.pushState(null, "", window.location.pathname + window.location.search);
    closeTicket();
    const link = el.list.querySelector("a");
    if (link) link.focus();
  });
  window.addEventListener("hashchange", route);
  for (const button of el.actions) {
    button.addEventListener("click", () => act(button.dataset.action, button));
  }
  el.older.addEventListener("click", loadOlder);
  bindMessages();
  bindBlock();
  for (const button of el.stats.querySelectorAll("[data-days]")) {
    button.addEventListener("click", () => {
      store.setStats({ days: Number(button.dataset.days) });
      loadStats();
    });
  }
  el.scroller.addEventListener("scroll", () => {
    if (el.scroller.scrollTop < 80) loadOlder();
  });
  el.form.addEventListener("submit", (event) => {
    event.preventDefault();
    send();
  });
  el.text.addEventListener("keydown", (event) => {
    if (event.isComposing) return;
    if (pickerKey(event)) {
      event.preventDefault();
      return;
    }
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      send();
    }
  });
  el.text.addEventListener("input", () => {
    views.renderCounter();
    updatePicker();
  });
  el.text.addEventListener("click", updatePicker);
  el.text.addEventListener("blur", () => {
    // A click on an option comes after the blur: let it land first.
    setTimeout(() => { if (document.activeElement !== el.text) store.setPicker(null); }, 150);
  });
  if (el.picker) {
    el.picker.addEventListener("mousedown", (event) => event.preventDefault()); // keep the focus
    el.picker.addEventListener("click", (event) => {
      const option = event.target.closest("[data-shortcut]");
      if (!option) return;
      choose((store.savedReplies || []).find((r) => r.shortcut === option.dataset.shortcut));
    });
  }
  if (el.note && !config.features.notes) el.note.closest("label").hidden = true;
  if (el.note) {
    el.note.addEventListener("change", () => {
      if (store.thread) store.setNoteMode(store.thread.id, el.note.checked);
      el.text.focus();
    });
  }
  el.attach.addEventListener("click", () => el.fileInput.click());
  el.fileInput.addEventListener("change", () => {
    addFiles(Array.from(el.fileInput.files));
    el.fileInput.value = ""; // the same file may be picked again
    el.text.focus();
  });
  el.pending.addEventListener("click", (event) => {
    const button = event.target.closest("[data-remove-file]");
    if (button) removeFile(Number(button.dataset.removeFile));
  });
  el.cancel.addEventListener("click", () => {
    if (store.upload) store.upload.controller.abort();
  });
  // A screenshot pasted into the reply box is attached; pasted text stays text.
  el.form.addEventListener("paste", (event) => {
    const data = event.clipboardData;
    const files = data ? Array.from(data.files) : [];
    if (!files.length || Array.from(data.types).includes("text/plain")) return;
    event.preventDefault();
    addFiles(files, { pasted: true });
  });
  bindDrop();
  document.addEventListener("visibilitychange", () => {
    markViewedSoon();
    alerts.visible();
  });
  window.addEventListener("focus", () => alerts.visible());
  el.list.addEventListener("click", (event) => {
    // Focus the reply box once the ticket opens (keyboard users land there too).
    if (event.target.closest("a")) setTimeout(() => el.text.focus(), 0);
  });
  if (el.alerts) el.alerts.addEventListener("click", () => alerts.toggle());
  // Any click makes the tone possible (browsers start audio only after a gesture).
  document.addEventListener("pointerdown", () => alerts.unlockAudio(), { once: true });
  document.addEventListener("keydown", () => alerts.unlockAudio(), { once: true });
}

/** The messages' own controls: Edit, Delete (and its confirm), the "edited" history. */
function bindMessages() {
  el.messages.addEventListener("click", (event) => {
    const target = event.target.closest("button");
    if (!target) return;
    const data = target.dataset;
    if (data.edit) startEdit(Number(data.edit));
    else if (data.saveEdit) saveEdit();
    else if (data.cancelEdit) cancelEdit();
    else if (data.delete) askDelete(Number(data.delete));
    else if (data.confirmDelete) deleteMessage();
    else if (data.cancelDelete) cancelDelete();
    else if (data.history) toggleHistory(Number(data.history));
    else if (data.closeHistory) closeHistory();
  });
  el.messages.addEventListener("keydown", (event) => {
    if (event.isComposing) return;
    if (event.target.classList.contains("edit-text")) {
      if (event.key === "Enter" && !event.shiftKey) {
        event.preventDefault();
        saveEdit();
      } else if (event.key === "Escape") {
        event.preventDefault();
        cancelEdit();
      }
      return;
    }
    if (event.key !== "Escape") return;
    const thread = store.thread;
    if (thread && thread.history) {
      event.preventDefault();
      closeHistory();
    } else if (thread && thread.deleting) {
      event.preventDefault();
      cancelDelete();
    }
  });
  // A click anywhere else closes the history.
  document.addEventListener("click", (event) => {
    const thread = store.thread;
    if (!thread || !thread.history) return;
    if (event.target.closest(".history, [data-history]")) return;
    store.setThreadState(thread, { history: null });
  });
}

/** The contact panel's Block form and Unblock button. */
function bindBlock() {
  el.blockOpen.addEventListener("click", openBlockForm);
  el.blockForm.addEventListener("submit", (event) => {
    event.preventDefault();
    block();
  });
  el.blockForm.querySelector(".block-cancel").addEventListener("click", closeBlockForm);
  el.blockForm.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      closeBlockForm();
    } else if (event.key === "Enter" && !event.shiftKey && event.target === el.blockReason && !event.isComposing) {
      event.preventDefault();
      block();
    }
  });
  el.unblock.addEventListener("click", unblock);
}

/** Files dropped anywhere on the open ticket are attached; elsewhere they are ignored
    (rather than the browser leaving the console to show the file). */
function bindDrop() {
  const carriesFiles = (event) => !!event.dataTransfer
    && Array.from(event.dataTransfer.types).includes("Files");
  let depth = 0;
  const leave = () => {
    depth = 0;
    el.ticket.classList.remove("dragging");
  };
  el.ticket.addEventListener("dragenter", (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    depth += 1;
    el.ticket.classList.add("dragging");
  });
  el.ticket.addEventListener("dragover", (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
  });
  el.ticket.addEventListener("dragleave", (event) => {
    if (!carriesFiles(event)) return;
    depth -= 1;
    if (depth <= 0) leave();
  });
  el.ticket.addEventListener("drop", (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    leave();
    addFiles(Array.from(event.dataTransfer.files));
    el.text.focus();
  });
  for (const type of ["dragover", "drop"]) {
    window.addEventListener(type, (event) => {
      if (!carriesFiles(event) || el.ticket.contains(event.target)) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "none";
    });
  }
}

async function currentCursor() {
  for (let attempt = 0; ; attempt += 1) {
    try {
      return (await api.get("events/")).data.cursor;
    } catch (error) {
      if (error.status === 401 || error.status === 403) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.min(10000, 500 * 2 ** attempt)));
    }
  }
}

async function start() {
  bind();
  views.renderCounter();
  store.changed("list", "files", "alerts", "view");
  const page = new URLSearchParams(window.location.search);
  let cursor;
  try {
    // Taken before the lists are read: anything that changes after it is replayed.
    cursor = await currentCursor();
  } catch (error) {
    views.renderConnection({ transport: "websocket", status: "offline" });
    return;
  }
  await Promise.all([loadTab(), loadCounts()]);
  route();
  const connection = new LiveConnection({
    api,
    websocketPath: config.websocket,
    cursor,
    protocol,
    onEvent: applyEvent,
    onReset: reloadAll,
    onState: (state) => views.renderConnection(state),
    transport: page.get("transport"),
    probeTimeout: Number(page.get("probe")) || undefined,
  });
  connection.start();
  // For debugging from the browser's console, and for the browser tests.
  window.supportConsole = { store, connection, reloadAll };
}

start();
