/* The manager console: the queue, the open ticket, the reply box.

   State lives in one place (`state`); every change, whether it comes from
   an answer to our own request or from the event stream, is applied there
   idempotently (a message by its id, a ticket by its fields), and the views
   are redrawn from it. So an event that arrives twice, or an answer and the
   event it caused, never shows twice.

   The reply box holds a draft per ticket: the text, and the files to send
   with it (picked, dropped or pasted), each checked against the limits as it
   comes and marked refused, with the reason in words, when the client or
   the server refuses it; the others and the text are always kept. */
(function () {
  "use strict";

  const {
    Api, ApiError, LiveConnection, Media, IMAGE_TYPES, fileIcon, newKey,
  } = window.supportConsole;
  const config = JSON.parse(document.getElementById("support-console-config").textContent);
  const S = config.strings;
  const me = config.me;
  const api = new Api(config.api);
  const media = new Media(S, document.documentElement.lang);
  const PAGE = 50;

  const TABS = {
    unassigned: {
      params: { resolved: "false", manager__isnull: "true" },
      match: (t) => !t.resolved && !t.support_manager,
    },
    mine: {
      params: { resolved: "false", manager: me.id },
      match: (t) => !t.resolved && !!t.support_manager && t.support_manager.id === me.id,
    },
    open: { params: { resolved: "false" }, match: (t) => !t.resolved },
    resolved: { params: { resolved: "true" }, match: (t) => t.resolved },
  };

  const state = {
    tickets: new Map(), // id -> ticket, as the API represents it, kept current by events
    tab: localStorage.getItem("support-console-tab") || "unassigned",
    search: "",
    listed: 0, // how many of the current tab's server pages are loaded
    total: null, // the server's count for the current tab and search
    counts: {},
    thread: null, // the open ticket: {id, messages: Map, first, total, media: Map}
    // ticket id -> {text, files, key, sent}: what was typed, the files to send
    // ({id, file, name, preview, refused}), the key it was sent with, and what it was.
    drafts: new Map(),
    upload: null, // the files being sent: {ticket (its id), controller, sent, total}
    connection: null,
  };
  if (!TABS[state.tab]) state.tab = "unassigned";

  const $ = (selector, root) => (root || document).querySelector(selector);
  const el = {
    connection: $("#connection"),
    notice: $("#notice"),
    tabs: Array.from(document.querySelectorAll('[role="tab"]')),
    search: $("#search"),
    panel: $("#ticket-list"),
    list: $(".tickets"),
    empty: $("#ticket-list .empty"),
    more: $("#ticket-list .more"),
    placeholder: $("#thread .placeholder"),
    ticket: $("#thread .ticket"),
    title: $("#thread-title"),
    meta: $(".ticket-head .meta"),
    actions: Array.from(document.querySelectorAll("[data-action]")),
    actionError: $(".action-error"),
    scroller: $(".messages"),
    older: $(".older"),
    messages: $(".message-list"),
    form: $("#reply-form"),
    text: $("#reply-text"),
    counter: $("#reply-counter"),
    replyError: $("#reply-error"),
    send: $("#reply-form button[type=submit]"),
    pending: $("#reply-files"),
    attach: $("#reply-form .attach"),
    fileInput: $("#reply-file-input"),
    progress: $("#reply-progress"),
    progressBar: $("#reply-progress progress"),
    progressLabel: $("#reply-progress .progress-label"),
    cancel: $("#reply-progress .cancel"),
  };

  // ---- small helpers -------------------------------------------------------

  function fmt(template, values) {
    return template.replace(/%\((\w+)\)s/g, (_, name) => String(values[name]));
  }

  function node(tag, className, text) {
    const element = document.createElement(tag);
    if (className) element.className = className;
    if (text !== undefined) element.textContent = text;
    return element;
  }

  const timeFormat = new Intl.DateTimeFormat(document.documentElement.lang, {
    hour: "2-digit", minute: "2-digit",
  });
  const dateFormat = new Intl.DateTimeFormat(document.documentElement.lang, {
    day: "numeric", month: "short",
  });

  function shortTime(iso) {
    const date = new Date(iso);
    const today = new Date().toDateString() === date.toDateString();
    return today ? timeFormat.format(date) : dateFormat.format(date);
  }

  function activity(ticket) {
    return Date.parse(ticket.last_message ? ticket.last_message.created_at : ticket.created_at);
  }

  function managerName(manager) {
    if (!manager) return "";
    if (manager.id === me.id) return me.name;
    const name = [manager.first_name, manager.last_name].filter(Boolean).join(" ");
    return name || "#" + manager.id;
  }

  function holderText(ticket) {
    if (!ticket.support_manager) return S.unassigned;
    if (ticket.support_manager.id === me.id) return S.assigned_to_you;
    return fmt(S.assigned_to, { name: managerName(ticket.support_manager) });
  }

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

  function show(element, text) {
    element.textContent = text || "";
    element.hidden = !text;
  }

  // ---- state changes ---------------------------------------------------------

  function upsert(ticket) {
    const known = state.tickets.get(ticket.id);
    // Keep the newer last message: an answer can be older than an event we applied.
    if (known && known.last_message && ticket.last_message
        && known.last_message.id > ticket.last_message.id) {
      ticket.last_message = known.last_message;
    }
    state.tickets.set(ticket.id, ticket);
    scheduleRender();
  }

  const refreshing = new Map();
  /** Fetch one ticket again (its unread count, its manager's name), at most once at a time. */
  function refreshTicket(id) {
    if (refreshing.has(id)) return;
    refreshing.set(id, setTimeout(async () => {
      try {
        const { data } = await api.get(`tickets/${id}/`);
        upsert(data);
      } catch (error) {
        if (error.status === 404) state.tickets.delete(id);
      } finally {
        refreshing.delete(id);
        scheduleRender();
      }
    }, 150));
  }

  function patchTicket(id, change) {
    const ticket = state.tickets.get(id);
    if (ticket) change(ticket);
    else refreshTicket(id);
    scheduleRender();
  }

  function applyMessage(message) {
    const ticket = state.tickets.get(message.ticket);
    if (!ticket) {
      refreshTicket(message.ticket);
    } else if (!ticket.last_message || message.id > ticket.last_message.id) {
      ticket.last_message = message;
      if (message.sender === "user" && !message.viewed) ticket.unread += 1;
    }
    const thread = state.thread;
    if (thread && thread.id === message.ticket) {
      const had = thread.messages.has(message.id);
      thread.messages.set(message.id, Object.assign(thread.messages.get(message.id) || {}, message));
      if (!had) thread.total += 1;
      renderThread();
      markViewedSoon();
    }
    scheduleRender();
  }

  function applyEvent(event) {
    switch (event.type) {
      case "ticket.created":
        upsert(event.ticket);
        break;
      case "ticket.assigned":
        patchTicket(event.id, (t) => {
          const known = t.support_manager && t.support_manager.id === event.support_manager;
          if (!known) {
            t.support_manager = { id: event.support_manager };
            if (event.support_manager !== me.id) refreshTicket(event.id); // for the name
          }
        });
        break;
      case "ticket.unassigned":
        patchTicket(event.id, (t) => { t.support_manager = null; });
        break;
      case "ticket.resolved":
        patchTicket(event.id, (t) => { t.resolved = true; });
        break;
      case "ticket.reopened":
        patchTicket(event.id, (t) => { t.resolved = false; });
        break;
      case "ticket.message.new":
        applyMessage(event.message);
        return;
      case "ticket.messages.viewed":
        if (state.thread && state.thread.id === event.ticket) {
          for (const id of event.ids) {
            const message = state.thread.messages.get(id);
            if (message) message.viewed = true;
          }
          renderThread();
        }
        if (state.tickets.has(event.ticket)) refreshTicket(event.ticket);
        return;
      default:
        return; // a newer server's event type: nothing to show for it
    }
    refreshCounts();
  }

  // ---- loading -----------------------------------------------------------------

  let listGeneration = 0;
  async function loadTab({ more = false } = {}) {
    const generation = more ? listGeneration : ++listGeneration;
    if (!more) {
      state.listed = 0;
      state.total = null;
    }
    el.panel.setAttribute("aria-busy", "true");
    const params = Object.assign({}, TABS[state.tab].params, {
      search: state.search.trim(), ordering: "-id", limit: PAGE, offset: state.listed,
    });
    try {
      const { data, response } = await api.get("tickets/", params);
      if (generation !== listGeneration) return;
      data.forEach(upsert);
      state.listed += data.length;
      state.total = Number(response.headers.get("X-Total-Count"));
    } catch (error) {
      if (generation === listGeneration) notice(errorText(error));
    } finally {
      if (generation === listGeneration) el.panel.setAttribute("aria-busy", "false");
      scheduleRender();
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
        state.counts[name] = Number(response.headers.get("X-Total-Count"));
      } catch (error) {
        /* keep the last count; the next event refreshes it */
      }
    }));
    renderCounts();
  }

  async function openTicket(id) {
    if (state.thread && state.thread.id === id) return;
    saveDraft();
    const thread = { id, messages: new Map(), first: 0, total: 0, media: new Map() };
    state.thread = thread;
    document.body.classList.add("show-ticket");
    el.text.value = (state.drafts.get(id) || {}).text || "";
    renderFiles();
    renderProgress();
    show(el.replyError, "");
    show(el.actionError, "");
    renderThread();
    scheduleRender();
    if (!state.tickets.has(id)) refreshTicket(id);
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
      if (state.thread !== thread) return;
      data.forEach((m) => { if (!thread.messages.has(m.id)) thread.messages.set(m.id, m); });
      thread.total = Math.max(total, thread.messages.size);
      thread.first = Math.max(0, total - data.length);
      renderThread({ bottom: true });
      markViewedSoon();
    } catch (error) {
      if (state.thread === thread) show(el.actionError, errorText(error));
    }
  }

  let loadingOlder = false;
  async function loadOlder() {
    const thread = state.thread;
    if (!thread || thread.first === 0 || loadingOlder) return;
    loadingOlder = true;
    const offset = Math.max(0, thread.first - PAGE);
    try {
      const { data } = await api.get(`tickets/${thread.id}/messages/`, {
        ordering: "created_at", limit: thread.first - offset, offset,
      });
      if (state.thread !== thread) return;
      data.forEach((m) => { if (!thread.messages.has(m.id)) thread.messages.set(m.id, m); });
      thread.first = offset;
      renderThread({ keepPosition: true });
    } catch (error) {
      show(el.actionError, errorText(error));
    } finally {
      loadingOlder = false;
    }
  }

  function closeTicket() {
    saveDraft();
    state.thread = null;
    document.body.classList.remove("show-ticket");
    renderFiles();
    renderProgress();
    renderThread();
    scheduleRender();
  }

  /** After a stream reset (or our cursor was refused): everything again from the server. */
  async function reloadAll() {
    notice(S.stream_reset);
    state.tickets.clear();
    const open = state.thread && state.thread.id;
    state.thread = null;
    await Promise.all([loadTab(), loadCounts(), open ? openTicket(open) : null]);
  }

  // ---- actions -----------------------------------------------------------------

  async function act(action, button) {
    const thread = state.thread;
    if (!thread) return;
    show(el.actionError, "");
    button.disabled = true;
    try {
      const { data } = await api.post(`tickets/${thread.id}/${action}/`);
      upsert(data); // at once; the event that follows refreshes the counts
    } catch (error) {
      show(el.actionError, errorText(error));
    } finally {
      button.disabled = false;
      renderThread();
    }
  }

  function saveDraft() {
    if (!state.thread) return;
    const draft = draftOf(state.thread.id);
    draft.text = el.text.value;
    if (!draft.text && !draft.files.length) state.drafts.delete(state.thread.id);
  }

  /** The draft of ticket *id*, made (and kept) if it has none. */
  function draftOf(id) {
    let draft = state.drafts.get(id);
    if (!draft) {
      draft = { text: "", files: [] };
      state.drafts.set(id, draft);
    }
    return draft;
  }

  function dropDraft(id) {
    const draft = state.drafts.get(id);
    if (draft) for (const entry of draft.files) forget(entry);
    state.drafts.delete(id);
  }

  // ---- files to send -------------------------------------------------------------

  let fileIds = 0;

  /** Files picked, dropped or pasted, added to the open ticket's draft, each checked. */
  function addFiles(files, { pasted = false } = {}) {
    const thread = state.thread;
    if (!thread || !files.length) return;
    if (uploading(thread.id)) return; // the draft is on its way
    const draft = draftOf(thread.id);
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
    renderFiles();
  }

  function removeFile(id) {
    const thread = state.thread;
    if (!thread) return;
    const draft = draftOf(thread.id);
    const index = draft.files.findIndex((entry) => entry.id === id);
    if (index < 0) return;
    forget(draft.files[index]);
    draft.files.splice(index, 1);
    if (!draft.files.some((entry) => entry.refused)) show(el.replyError, "");
    renderFiles();
    // Keep the keyboard where it was: the next chip's button, or the reply box.
    const next = el.pending.querySelectorAll(".chip-remove")[Math.min(index, draft.files.length - 1)];
    (next || el.text).focus();
  }

  function forget(entry) {
    if (entry.preview) URL.revokeObjectURL(entry.preview);
    entry.preview = null;
  }

  /** Whether ticket *id*'s draft is being uploaded (it is sent as it was). */
  function uploading(id) {
    return !!state.upload && state.upload.ticket === id;
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

  async function send() {
    const thread = state.thread;
    const text = el.text.value;
    if (!thread || el.send.disabled) return;
    const draft = draftOf(thread.id);
    const files = sendable(draft);
    if (!text.trim() && !files.length) {
      if (!draft.files.length) state.drafts.delete(thread.id);
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
    el.send.disabled = true;
    el.send.textContent = S.sending;
    try {
      let data;
      if (files.length) {
        const form = new FormData();
        form.append("text", text);
        form.append("idempotency_key", draft.key);
        for (const entry of files) form.append("files", entry.file, entry.name);
        const upload = { ticket: thread.id, controller: new AbortController(), sent: 0, total: null };
        state.upload = upload;
        renderFiles();
        renderProgress();
        ({ data } = await api.upload(`tickets/${thread.id}/messages/`, form, {
          signal: upload.controller.signal,
          onProgress(sent, total) {
            upload.sent = sent;
            upload.total = total;
            renderProgress();
          },
        }));
      } else {
        ({ data } = await api.post(`tickets/${thread.id}/messages/`, {
          text, idempotency_key: draft.key,
        }));
      }
      dropDraft(thread.id);
      if (state.thread && state.thread.id === thread.id) {
        el.text.value = "";
        renderCounter();
      }
      applyMessage(data);
    } catch (error) {
      let words;
      if (error.name === "AbortError") {
        words = S.cancelled;
      } else {
        const refused = refusedFile(error, files);
        words = refused ? refuse(refused, error.code) : errorText(error);
      }
      if (state.thread && state.thread.id === thread.id) show(el.replyError, words);
    } finally {
      state.upload = null;
      el.send.disabled = false;
      el.send.textContent = S.send;
      renderFiles();
      renderProgress();
    }
  }

  let viewedTimer = null;
  function markViewedSoon() {
    clearTimeout(viewedTimer);
    viewedTimer = setTimeout(markViewed, 300);
  }

  async function markViewed() {
    const thread = state.thread;
    if (!thread || document.visibilityState !== "visible") return;
    const unseen = Array.from(thread.messages.values())
      .filter((m) => m.sender === "user" && !m.viewed);
    if (!unseen.length) return;
    const upTo = Math.max(...unseen.map((m) => m.id));
    try {
      const { data } = await api.post(`tickets/${thread.id}/messages/viewed/`, { up_to: upTo });
      // The ticket's unread count follows with the ticket.messages.viewed event.
      for (const message of data) {
        const known = thread.messages.get(message.id);
        if (known) known.viewed = true;
      }
      renderThread();
    } catch (error) {
      /* tried again with the next message or visit */
    }
  }

  // ---- rendering -----------------------------------------------------------------

  let renderPending = false;
  function scheduleRender() {
    if (renderPending) return;
    renderPending = true;
    requestAnimationFrame(() => {
      renderPending = false;
      renderList();
      renderHead();
    });
  }

  function matchesSearch(ticket, query) {
    if (!query) return true;
    if (/^\d+$/.test(query) && ticket.user && String(ticket.user.telegram_id) === query) return true;
    return ticket.title.toLowerCase().includes(query.toLowerCase());
  }

  function renderList() {
    const match = TABS[state.tab].match;
    const query = state.search.trim();
    const rows = Array.from(state.tickets.values())
      .filter((t) => match(t) && matchesSearch(t, query))
      .sort((a, b) => activity(b) - activity(a) || b.id - a.id);
    const focused = document.activeElement && document.activeElement.dataset.ticketId;
    el.list.replaceChildren(...rows.map(row));
    if (focused) {
      const again = el.list.querySelector(`[data-ticket-id="${focused}"]`);
      if (again) again.focus();
    }
    el.empty.textContent = S.no_tickets;
    el.empty.hidden = rows.length > 0 || el.panel.getAttribute("aria-busy") === "true";
    el.more.hidden = !(state.total !== null && state.listed < state.total);
    for (const tab of el.tabs) {
      const selected = tab.dataset.tab === state.tab;
      tab.setAttribute("aria-selected", String(selected));
      tab.tabIndex = selected ? 0 : -1;
    }
  }

  function row(ticket) {
    const item = document.createElement("li");
    const link = node("a");
    link.href = `#ticket-${ticket.id}`;
    link.dataset.ticketId = ticket.id;
    link.setAttribute("aria-current", String(!!state.thread && state.thread.id === ticket.id));
    link.append(node("span", "title", ticket.title));
    link.append(node("span", "time", shortTime(ticket.last_message
      ? ticket.last_message.created_at : ticket.created_at)));
    const last = ticket.last_message;
    const preview = last ? (last.sender === "supp" ? S.you + ": " : "") + media.preview(last) : "";
    link.append(node("span", "preview", preview));
    if (ticket.unread > 0) {
      const badge = node("span", "badge");
      badge.append(node("span", "", String(ticket.unread)));
      badge.firstChild.setAttribute("aria-hidden", "true");
      badge.append(node("span", "visually-hidden", fmt(S.unread, { count: ticket.unread })));
      link.append(badge);
    }
    const user = ticket.user ? fmt(S.telegram_user, { id: ticket.user.telegram_id }) : "";
    link.append(node("span", "holder", [`#${ticket.id}`, user, holderText(ticket)]
      .filter(Boolean).join(" · ")));
    item.append(link);
    return item;
  }

  function renderCounts() {
    for (const [name, count] of Object.entries(state.counts)) {
      const badge = document.querySelector(`[data-count="${name}"]`);
      if (badge) badge.textContent = Number.isFinite(count) ? `(${count})` : "";
    }
  }

  function renderHead() {
    const thread = state.thread;
    el.placeholder.hidden = !!thread;
    el.ticket.hidden = !thread;
    if (!thread) return;
    const ticket = state.tickets.get(thread.id);
    if (!ticket) {
      el.title.textContent = fmt(S.ticket_number, { id: thread.id });
      el.meta.textContent = S.loading;
      for (const button of el.actions) button.hidden = true;
      return;
    }
    el.title.textContent = ticket.title;
    el.meta.textContent = [
      fmt(S.ticket_number, { id: ticket.id }),
      ticket.user ? fmt(S.telegram_user, { id: ticket.user.telegram_id }) : "",
      ticket.resolved ? S.resolved : S.open,
      holderText(ticket),
    ].filter(Boolean).join(" · ");
    const mine = !!ticket.support_manager && ticket.support_manager.id === me.id;
    const visible = {
      assign: !ticket.resolved && !ticket.support_manager,
      unassign: !ticket.resolved && mine,
      resolve: !ticket.resolved,
      reopen: ticket.resolved,
    };
    for (const button of el.actions) button.hidden = !visible[button.dataset.action];
  }

  function renderThread({ bottom = false, keepPosition = false } = {}) {
    renderHead();
    const thread = state.thread;
    if (!thread) {
      el.messages.replaceChildren();
      return;
    }
    const scroller = el.scroller;
    const fromBottom = scroller.scrollHeight - scroller.scrollTop;
    const atBottom = fromBottom - scroller.clientHeight < 60;
    const messages = Array.from(thread.messages.values()).sort((a, b) => a.id - b.id);
    el.messages.replaceChildren(...messages.map((message) => {
      const item = node("li", `message ${message.sender}`);
      item.dataset.messageId = message.id;
      const attachments = message.attachments || [];
      if (attachments.length) {
        item.classList.add("has-attachments");
        const holder = node("div", "attachments");
        const pictures = attachments.filter((a) => a.kind !== "document" && IMAGE_TYPES.includes(a.content_type));
        for (const attachment of attachments) holder.append(attachmentElement(thread, attachment, pictures.length > 1));
        item.append(holder);
      }
      if (message.text) item.append(node("span", "text", message.text));
      const who = message.sender === "supp"
        ? (message.author === me.id ? S.you : managerName({ id: message.author }))
        : S.user;
      const seen = message.sender === "supp" && message.viewed ? " · " + S.viewed : "";
      item.append(node("span", "info", `${who} · ${shortTime(message.created_at)}${seen}`));
      return item;
    }));
    if (!messages.length) el.messages.append(node("li", "empty", S.no_messages));
    el.older.hidden = thread.first === 0;
    if (keepPosition) scroller.scrollTop = scroller.scrollHeight - fromBottom;
    else if (bottom || atBottom) scroller.scrollTop = scroller.scrollHeight;
    renderCounter();
  }

  /** An attachment's element, made once per open ticket: redrawing the thread
      moves it rather than making it anew, so a player keeps playing and a
      picture is not fetched again. */
  function attachmentElement(thread, attachment, several) {
    const key = `${attachment.id}:${several}`;
    let element = thread.media.get(key);
    if (!element) {
      element = media.render(attachment, several);
      thread.media.set(key, element);
    }
    return element;
  }

  function renderFiles() {
    const thread = state.thread;
    const draft = thread && state.drafts.get(thread.id);
    const files = draft ? draft.files : [];
    const busy = !!thread && uploading(thread.id);
    el.pending.replaceChildren(...files.map((entry) => {
      const chip = node("li", "chip" + (entry.refused ? " refused" : ""));
      chip.dataset.fileId = entry.id;
      if (entry.preview) {
        const image = node("img", "chip-preview");
        image.src = entry.preview;
        image.alt = "";
        chip.append(image);
      } else {
        chip.append(fileIcon(entry.name));
      }
      const body = node("span", "chip-body");
      body.append(node("span", "chip-name", entry.name));
      const meta = entry.refused ? `${entry.refused.reason} · ${media.size(entry.file.size)}` : media.size(entry.file.size);
      body.append(node("span", "chip-meta", meta));
      if (entry.refused) chip.title = entry.refused.text;
      const remove = node("button", "chip-remove", "×");
      remove.type = "button";
      remove.disabled = busy;
      remove.setAttribute("aria-label", fmt(S.remove_file, { name: entry.name }));
      remove.addEventListener("click", () => removeFile(entry.id));
      chip.append(body, remove);
      return chip;
    }));
    el.pending.hidden = files.length === 0;
    el.attach.disabled = busy;
  }

  function renderProgress() {
    const upload = state.upload;
    const active = !!state.thread && uploading(state.thread.id);
    el.progress.hidden = !active;
    el.counter.hidden = active;
    el.text.readOnly = active; // what is being sent is what the box shows
    if (!active) return;
    const total = upload.total || 0;
    el.progressBar.max = total || 1;
    el.progressBar.value = total ? upload.sent : 0;
    // All sent: the server is checking and storing the files.
    el.progressLabel.textContent = total && upload.sent >= total ? S.sending
      : fmt(S.uploading, { done: media.size(upload.sent), total: total ? media.size(total) : "…" });
  }

  function renderCounter() {
    const used = el.text.value.length;
    const over = used - config.maxTextLength;
    const count = fmt(S.chars_left, { used, limit: config.maxTextLength });
    el.counter.textContent = over > 0 ? `${count} · ${fmt(S.too_long, { over })}` : count;
    el.counter.classList.toggle("over", over > 0);
  }

  function renderConnection({ transport, status }) {
    el.connection.dataset.state = status;
    el.connection.dataset.transport = transport;
    const name = S[transport];
    const label = {
      live: `${S.live} · ${name}`,
      connecting: `${S.connecting} (${name})`,
      reconnecting: `${S.reconnecting} (${name})`,
      offline: S.signed_out,
    }[status];
    $(".label", el.connection).textContent = label;
    if (status === "offline") notice(S.signed_out);
  }

  function notice(text) {
    show(el.notice, text);
    if (text) setTimeout(() => { if (el.notice.textContent === text) show(el.notice, ""); }, 8000);
  }

  // ---- wiring ------------------------------------------------------------------

  function selectTab(name, focus) {
    if (!TABS[name]) return;
    state.tab = name;
    localStorage.setItem("support-console-tab", name);
    if (focus) el.tabs.find((t) => t.dataset.tab === name).focus();
    scheduleRender();
    loadTab();
  }

  function route() {
    const match = /^#ticket-(\d+)$/.exec(window.location.hash);
    if (match) openTicket(Number(match[1]));
    else if (state.thread) closeTicket();
  }

  function bind() {
    for (const tab of el.tabs) {
      tab.addEventListener("click", () => selectTab(tab.dataset.tab));
      tab.addEventListener("keydown", (event) => {
        const names = el.tabs.map((t) => t.dataset.tab);
        const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
        if (step) {
          event.preventDefault();
          const next = names[(names.indexOf(state.tab) + step + names.length) % names.length];
          selectTab(next, true);
        }
      });
    }
    let searchTimer = null;
    el.search.addEventListener("input", () => {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(() => {
        state.search = el.search.value;
        scheduleRender();
        loadTab();
      }, 250);
    });
    $("#search-form").addEventListener("submit", (event) => event.preventDefault());
    el.more.addEventListener("click", () => loadTab({ more: true }));
    $(".back").addEventListener("click", (event) => {
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
    el.scroller.addEventListener("scroll", () => {
      if (el.scroller.scrollTop < 80) loadOlder();
    });
    el.form.addEventListener("submit", (event) => {
      event.preventDefault();
      send();
    });
    el.text.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        send();
      }
    });
    el.text.addEventListener("input", renderCounter);
    el.attach.addEventListener("click", () => el.fileInput.click());
    el.fileInput.addEventListener("change", () => {
      addFiles(Array.from(el.fileInput.files));
      el.fileInput.value = ""; // the same file may be picked again
      el.text.focus();
    });
    el.cancel.addEventListener("click", () => {
      if (state.upload) state.upload.controller.abort();
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
    document.addEventListener("visibilitychange", markViewedSoon);
    el.list.addEventListener("click", (event) => {
      // Focus the reply box once the ticket opens (keyboard users land there too).
      if (event.target.closest("a")) setTimeout(() => el.text.focus(), 0);
    });
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
    renderCounter();
    renderFiles();
    scheduleRender();
    const page = new URLSearchParams(window.location.search);
    let cursor;
    try {
      // Taken before the lists are read: anything that changes after it is replayed.
      cursor = await currentCursor();
    } catch (error) {
      renderConnection({ transport: "websocket", status: "offline" });
      return;
    }
    await Promise.all([loadTab(), loadCounts()]);
    route();
    state.connection = new LiveConnection({
      api,
      websocketPath: config.websocket,
      cursor,
      onEvent: applyEvent,
      onReset: reloadAll,
      onState: renderConnection,
      transport: page.get("transport"),
      probeTimeout: Number(page.get("probe")) || undefined,
    });
    state.connection.start();
    window.supportConsole.state = state; // for debugging from the browser console
  }

  start();
})();
