/* What the page shows, drawn from the store: the queue, the open ticket's
   head, timeline (messages and notes) and contact panel, the reply box's
   files, progress and counter, the saved-replies picker, the connection
   indicator, the notice. Views read the store and write the DOM; they
   never change the store (the wiring does, through its methods).

   Everything from the server goes into the page as text or attribute
   values, never as markup; a link in a message is an <a> made here, for
   http and https addresses only. */

import { IMAGE_TYPES, icon as fileIcon } from "./media.js";
import { S, SENDER, config, fmt, me, node } from "./config.js";
import { TABS } from "./store.js";
import { StatsView } from "./stats.js";

const $ = (selector, root) => (root || document).querySelector(selector);

export const el = {
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
  note: $("#reply-note"),
  pending: $("#reply-files"),
  attach: $("#reply-form .attach"),
  fileInput: $("#reply-file-input"),
  progress: $("#reply-progress"),
  progressBar: $("#reply-progress progress"),
  progressLabel: $("#reply-progress .progress-label"),
  cancel: $("#reply-progress .cancel"),
  picker: $("#saved-replies"),
  contact: $("#contact"),
  alerts: $("#alerts-toggle"),
  extra: $(".ticket-extra"),
  layout: $("main.layout"),
  stats: $("#stats"),
  statsOpen: $("#stats-open"),
  block: $(".contact-block"),
  blockState: $(".blocked-state"),
  blockOpen: $(".block-open"),
  unblock: $(".unblock"),
  blockForm: $("#block-form"),
  blockReason: $("#block-reason"),
  blockError: $("#block-error"),
  blockSubmit: $("#block-form button[type=submit]"),
  blockActionError: $(".block-action-error"),
};

const lang = document.documentElement.lang;
const timeFormat = new Intl.DateTimeFormat(lang, { hour: "2-digit", minute: "2-digit" });
const dateFormat = new Intl.DateTimeFormat(lang, { day: "numeric", month: "short" });
const longFormat = new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" });
const languageNames = typeof Intl.DisplayNames === "function"
  ? new Intl.DisplayNames([lang], { type: "language" }) : null;

export function longTime(iso) {
  return longFormat.format(new Date(iso));
}

export function shortTime(iso) {
  const date = new Date(iso);
  const today = new Date().toDateString() === date.toDateString();
  return today ? timeFormat.format(date) : dateFormat.format(date);
}

function activity(ticket) {
  return Date.parse(ticket.last_message ? ticket.last_message.created_at : ticket.created_at);
}

export function managerName(manager) {
  if (!manager) return "";
  if (manager.id === me.id) return me.name;
  const name = [manager.first_name, manager.last_name].filter(Boolean).join(" ");
  return name || manager.username || "#" + manager.id;
}

/** A manager by id, named from any ticket the page holds that they hold. */
function knownManager(store, id) {
  for (const ticket of store.tickets.values()) {
    if (ticket.support_manager && ticket.support_manager.id === id) return ticket.support_manager;
  }
  return { id };
}

/** Whether *message* is the manager's own reply still inside the edit window. */
export function editable(message, now = Date.now()) {
  if (message.sender !== SENDER.support || message.author !== me.id) return false;
  return now < Date.parse(message.created_at) + config.edit_window_seconds * 1000;
}

/** The user's name: first and last, else @username, else "Telegram user N". */
export function userName(user) {
  if (!user) return "";
  const name = [user.first_name, user.last_name].filter(Boolean).join(" ");
  if (name) return name;
  if (user.username) return "@" + user.username;
  return fmt(S.telegram_user, { id: user.telegram_id });
}

function holderText(ticket) {
  if (!ticket.support_manager) return S.unassigned;
  if (ticket.support_manager.id === me.id) return S.assigned_to_you;
  return fmt(S.assigned_to, { name: managerName(ticket.support_manager) });
}

export function show(element, text) {
  element.textContent = text || "";
  element.hidden = !text;
}

// http and https addresses; trailing punctuation stays text ("see https://x.org.").
const LINK = /\bhttps?:\/\/[^\s<>"]+/gi;
const TRAILING = /[.,;:!?)\]}'»]+$/;

/** *text* as text nodes and <a> elements for its http(s) links: never markup. */
export function linkify(text) {
  const parts = [];
  let last = 0;
  for (const match of text.matchAll(LINK)) {
    let address = match[0];
    const tail = TRAILING.exec(address);
    if (tail) address = address.slice(0, -tail[0].length);
    let url;
    try {
      url = new URL(address);
    } catch (error) {
      continue;
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") continue;
    parts.push(document.createTextNode(text.slice(last, match.index)));
    const link = node("a", "", address);
    link.href = url.href;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    parts.push(link);
    last = match.index + address.length;
  }
  parts.push(document.createTextNode(text.slice(last)));
  return parts;
}

export class Views {
  constructor(store, media) {
    this.store = store;
    this.media = media;
    this.pending = new Set();
    this.frame = false;
    this.editor = null; // the open inline editor: {thread, id, box, textarea}, kept across redraws
    this.windowTimer = null; // redraws the thread when an Edit button's window closes
    this.stats = new StatsView(store, el.stats);
    // The queue's rows, kept across redraws: a row rebuilt between the mouse's press
    // and release loses the click (its target is gone), and a busy queue redraws often.
    this.rows = new Map(); // ticket id -> its <li>
    store.subscribe((parts) => this.schedule(parts));
  }

  /** Redraw *parts* at the next frame, each once however many changes came. */
  schedule(parts) {
    for (const part of parts) this.pending.add(part);
    if (this.frame) return;
    this.frame = true;
    requestAnimationFrame(() => {
      this.frame = false;
      const parts = this.pending;
      this.pending = new Set();
      this.draw(parts);
    });
  }

  draw(parts) {
    if (parts.has("list")) this.renderList();
    if (parts.has("thread")) this.renderThread();
    else if (parts.has("head")) this.renderHead();
    if (parts.has("counts")) this.renderCounts();
    if (parts.has("contact") || parts.has("head") || parts.has("thread")) this.renderContact();
    if (parts.has("files")) {
      this.renderFiles();
      this.renderProgress();
      this.renderMode();
    }
    if (parts.has("picker")) this.renderPicker();
    if (parts.has("alerts")) this.renderAlerts();
    if (parts.has("view")) this.renderView();
    if (parts.has("stats")) this.stats.render();
  }

  /** The desk (queue and conversation) or the stats page. */
  renderView() {
    const stats = this.store.view === "stats";
    el.layout.hidden = stats;
    el.stats.hidden = !stats;
    if (el.statsOpen) {
      el.statsOpen.hidden = !config.features.stats;
      if (stats) el.statsOpen.setAttribute("aria-current", "page");
      else el.statsOpen.removeAttribute("aria-current");
    }
    this.stats.render();
  }

  // ---- the queue ------------------------------------------------------------------

  renderList() {
    const store = this.store;
    const match = TABS[store.tab].match;
    const query = store.search.trim();
    const rows = Array.from(store.tickets.values())
      .filter((t) => match(t) && matchesSearch(t, query))
      .sort((a, b) => activity(b) - activity(a) || b.id - a.id);
    const focused = document.activeElement && document.activeElement.dataset.ticketId;
    const items = rows.map((t) => this.row(t));
    const shown = el.list.children;
    if (items.length !== shown.length || items.some((item, i) => shown[i] !== item)) {
      el.list.replaceChildren(...items);
    }
    for (const id of this.rows.keys()) if (!store.tickets.has(id)) this.rows.delete(id);
    if (focused) {
      const again = el.list.querySelector(`[data-ticket-id="${focused}"]`);
      if (again) again.focus();
    }
    el.empty.textContent = S.no_tickets;
    el.empty.hidden = rows.length > 0 || el.panel.getAttribute("aria-busy") === "true";
    el.more.hidden = !(store.total !== null && store.listed < store.total);
    for (const tab of el.tabs) {
      const selected = tab.dataset.tab === store.tab;
      tab.setAttribute("aria-selected", String(selected));
      tab.tabIndex = selected ? 0 : -1;
    }
  }

  /** The queue's row of *ticket*: the one drawn before, its content updated in place
   *  (the link itself stays, so a click in progress lands), or a new one. */
  row(ticket) {
    const fresh = this.rowLink(ticket);
    const known = this.rows.get(ticket.id);
    if (!known) {
      const item = document.createElement("li");
      item.append(fresh);
      this.rows.set(ticket.id, item);
      return item;
    }
    const link = known.firstChild;
    if (link.innerHTML !== fresh.innerHTML) link.replaceChildren(...fresh.childNodes);
    link.setAttribute("aria-current", fresh.getAttribute("aria-current"));
    return known;
  }

  rowLink(ticket) {
    const thread = this.store.thread;
    const link = node("a");
    link.href = `#ticket-${ticket.id}`;
    link.dataset.ticketId = ticket.id;
    link.setAttribute("aria-current", String(!!thread && thread.id === ticket.id));
    link.append(node("span", "title", ticket.title));
    link.append(node("span", "time", shortTime(ticket.last_message
      ? ticket.last_message.created_at : ticket.created_at)));
    const last = ticket.last_message;
    const preview = last ? (last.sender === SENDER.support ? S.you + ": " : "") + this.media.preview(last) : "";
    link.append(node("span", "preview", preview));
    if (ticket.unread > 0) {
      const badge = node("span", "badge");
      badge.append(node("span", "", String(ticket.unread)));
      badge.firstChild.setAttribute("aria-hidden", "true");
      badge.append(node("span", "visually-hidden", fmt(S.unread, { count: ticket.unread })));
      link.append(badge);
    }
    const holder = node("span", "holder");
    holder.append(`#${ticket.id}`);
    if (ticket.user) holder.append(" · ", node("span", "user-name", userName(ticket.user)));
    if (ticket.user && ticket.user.blocked) holder.append(" ", node("span", "blocked-mark", S.blocked));
    holder.append(" · " + holderText(ticket));
    link.append(holder);
    return link;
  }

  renderCounts() {
    for (const [name, count] of Object.entries(this.store.counts)) {
      const badge = document.querySelector(`[data-count="${name}"]`);
      if (badge) badge.textContent = Number.isFinite(count) ? `(${count})` : "";
    }
  }

  // ---- the open ticket --------------------------------------------------------------

  renderHead() {
    const thread = this.store.thread;
    el.placeholder.hidden = !!thread;
    el.ticket.hidden = !thread;
    if (!thread) return;
    const ticket = this.store.tickets.get(thread.id);
    if (!ticket) {
      el.title.textContent = fmt(S.ticket_number, { id: thread.id });
      el.meta.textContent = S.loading;
      for (const button of el.actions) button.hidden = true;
      return;
    }
    el.title.textContent = ticket.title;
    el.meta.textContent = [
      fmt(S.ticket_number, { id: ticket.id }),
      userName(ticket.user),
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
    this.renderExtra(ticket);
  }

  /** Under the title: the ticket this one follows, and the user's rating. */
  renderExtra(ticket) {
    const parts = [];
    if (ticket.previous) {
      const link = node("a", "previous", fmt(S.follows_ticket, { id: ticket.previous }));
      link.href = `#ticket-${ticket.previous}`;
      parts.push(link);
    }
    if (ticket.rating) {
      const score = Math.max(0, Math.min(5, Number(ticket.rating.score) || 0));
      const rating = node("span", "rating");
      rating.dataset.score = String(score);
      const stars = node("span", "stars", "★".repeat(score) + "☆".repeat(5 - score));
      stars.setAttribute("role", "img");
      stars.setAttribute("aria-label", fmt(S.rated, { score }));
      stars.title = fmt(S.rated, { score }) + " · " + longTime(ticket.rating.created_at);
      rating.append(stars);
      if (ticket.rating.comment) rating.append(" ", node("q", "rating-comment", ticket.rating.comment));
      parts.push(rating);
    }
    el.extra.replaceChildren(...parts);
    el.extra.hidden = parts.length === 0;
  }

  /** The timeline: messages and notes by time, notes styled apart. */
  renderThread({ bottom = false, keepPosition = false } = {}) {
    this.renderHead();
    const thread = this.store.thread;
    if (!thread) {
      el.messages.replaceChildren();
      return;
    }
    const scroller = el.scroller;
    const fromBottom = scroller.scrollHeight - scroller.scrollTop;
    const atBottom = fromBottom - scroller.clientHeight < 60;
    const messages = Array.from(thread.messages.values()).sort((a, b) => a.id - b.id);
    // Notes older than the oldest loaded message wait for it to load.
    const oldest = thread.first > 0 && messages.length ? Date.parse(messages[0].created_at) : -Infinity;
    const notes = Array.from(thread.notes.values())
      .filter((n) => Date.parse(n.created_at) >= oldest);
    const items = [
      ...messages.map((m) => ({ at: Date.parse(m.created_at), order: 0, id: m.id, view: () => this.message(thread, m) })),
      ...notes.map((n) => ({ at: Date.parse(n.created_at), order: 1, id: n.id, view: () => this.note(n) })),
    ].sort((a, b) => a.at - b.at || a.order - b.order || a.id - b.id);
    const active = document.activeElement;
    const focused = active && el.messages.contains(active) ? active : null;
    const selection = focused && focused.tagName === "TEXTAREA"
      ? [focused.selectionStart, focused.selectionEnd] : null;
    if (!thread.editing) this.editor = null;
    el.messages.replaceChildren(...items.map((item) => item.view()));
    if (!items.length) el.messages.append(node("li", "empty", S.no_messages));
    // A redraw keeps the keyboard where it was: the editor itself, or the control
    // drawn anew in its place.
    if (focused && focused.isConnected) {
      focused.focus({ preventScroll: true });
      if (selection) focused.setSelectionRange(...selection);
    } else if (focused && focused.dataset.key) {
      const again = el.messages.querySelector(`[data-key="${focused.dataset.key}"]`);
      if (again) again.focus({ preventScroll: true });
    }
    this.scheduleWindow(messages);
    el.older.hidden = thread.first === 0;
    if (keepPosition) scroller.scrollTop = scroller.scrollHeight - fromBottom;
    else if (bottom || atBottom) scroller.scrollTop = scroller.scrollHeight;
    this.renderCounter();
  }

  /** Redraw when the first of the manager's editable replies leaves the edit window. */
  scheduleWindow(messages) {
    clearTimeout(this.windowTimer);
    const now = Date.now();
    const ends = messages.filter((m) => editable(m, now))
      .map((m) => Date.parse(m.created_at) + config.edit_window_seconds * 1000);
    if (!ends.length) return;
    const wait = Math.min(...ends) - now + 50;
    this.windowTimer = setTimeout(() => this.schedule(new Set(["thread"])), Math.min(wait, 2 ** 31 - 1));
  }

  message(thread, message) {
    const item = node("li", `message ${message.sender}`);
    item.dataset.messageId = message.id;
    const editing = thread.editing && thread.editing.id === message.id ? thread.editing : null;
    const attachments = message.attachments || [];
    if (attachments.length) {
      item.classList.add("has-attachments");
      const holder = node("div", "attachments");
      const pictures = attachments.filter((a) => a.kind !== "document" && IMAGE_TYPES.includes(a.content_type));
      for (const attachment of attachments) holder.append(this.attachment(thread, attachment, pictures.length > 1));
      item.append(holder);
    }
    if (editing) {
      item.append(this.editorFor(thread, message, editing));
    } else if (message.text) {
      const text = node("span", "text");
      text.append(...linkify(message.text));
      item.append(text);
    }
    const who = message.sender === SENDER.support
      ? (message.author === me.id ? S.you : managerName(knownManager(this.store, message.author)))
      : S.user;
    const seen = message.sender === SENDER.support && message.viewed ? " · " + S.viewed : "";
    const info = node("span", "info", `${who} · ${shortTime(message.created_at)}${seen}`);
    if (message.edited_at) {
      info.append(" · ");
      const label = button("link edited", S.edited, `history-${message.id}`);
      label.dataset.history = message.id;
      label.title = fmt(S.edited_at, { date: longTime(message.edited_at) });
      label.setAttribute("aria-expanded", String(!!thread.history && thread.history.id === message.id));
      if (!config.features.editHistory) label.disabled = true;
      info.append(label);
    }
    const deleting = thread.deleting && thread.deleting.id === message.id ? thread.deleting : null;
    if (config.features.editMessages && !editing && !deleting && editable(message)) {
      const edit = button("link msg-action", S.edit, `edit-${message.id}`);
      edit.dataset.edit = message.id;
      const remove = button("link msg-action", S.delete, `delete-${message.id}`);
      remove.dataset.delete = message.id;
      info.append(" · ", edit, " · ", remove);
    }
    item.append(info);
    if (deleting) item.append(this.confirmDelete(message, deleting));
    if (thread.history && thread.history.id === message.id) item.append(this.history(message, thread.history));
    return item;
  }

  /** The inline editor of an own reply: made once, then moved from redraw to redraw
      (so what is typed, the caret and the focus stay). */
  editorFor(thread, message, editing) {
    let editor = this.editor;
    if (!editor || editor.thread !== thread || editor.id !== message.id) {
      const box = node("div", "editor");
      const textarea = node("textarea", "edit-text");
      textarea.value = message.text;
      textarea.rows = Math.min(8, Math.max(2, message.text.split("\n").length));
      textarea.setAttribute("aria-label", S.edit);
      textarea.maxLength = config.maxTextLength;
      const bar = node("div", "editor-bar");
      const hint = node("span", "editor-hint", S.edit_hint);
      const error = node("p", "error");
      error.setAttribute("role", "alert");
      const save = button("primary", S.save, "save-edit");
      save.dataset.saveEdit = message.id;
      const cancel = button("", S.cancel, "cancel-edit");
      cancel.dataset.cancelEdit = message.id;
      bar.append(hint, error, save, cancel);
      box.append(textarea, bar);
      editor = { thread, id: message.id, box, textarea, error, save, cancel };
      this.editor = editor;
    }
    show(editor.error, editing.error);
    editor.textarea.readOnly = !!editing.busy;
    editor.save.disabled = !!editing.busy;
    editor.save.textContent = editing.busy ? S.saving : S.save;
    return editor.box;
  }

  /** "Delete this reply?" under the reply, with the buttons to go on or not. */
  confirmDelete(message, deleting) {
    const box = node("div", "confirm");
    box.setAttribute("role", "group");
    box.setAttribute("aria-label", S.delete_confirm);
    box.append(node("span", "confirm-text", S.delete_confirm));
    const yes = button("danger", deleting.busy ? S.deleting : S.delete, "confirm-delete");
    yes.dataset.confirmDelete = message.id;
    yes.disabled = !!deleting.busy;
    const no = button("", S.cancel, "cancel-delete");
    no.dataset.cancelDelete = message.id;
    box.append(yes, no);
    if (deleting.error) {
      const error = node("p", "error", deleting.error);
      error.setAttribute("role", "alert");
      box.append(error);
    }
    return box;
  }

  /** The popover of a message's versions, oldest first, ending with the text now. */
  history(message, history) {
    const box = node("div", "history");
    box.setAttribute("role", "dialog");
    box.setAttribute("aria-label", S.history);
    const head = node("div", "history-head");
    head.append(node("strong", "", S.history));
    const close = button("link history-close", "×", "close-history");
    close.dataset.closeHistory = message.id;
    close.setAttribute("aria-label", S.close);
    head.append(close);
    box.append(head);
    if (history.error) {
      box.append(node("p", "error", history.error));
      return box;
    }
    if (!history.entries) {
      box.append(node("p", "empty", S.loading));
      return box;
    }
    const editorName = (id) => {
      if (id === null || id === undefined) return S.history_by_user;
      return fmt(S.history_edited_by, { name: managerName(knownManager(this.store, id)) });
    };
    const entries = history.entries;
    const versions = entries.map((entry, n) => ({
      text: entry.text,
      label: n === 0 ? S.history_original : editorName(entries[n - 1].editor),
      at: n === 0 ? message.created_at : entries[n - 1].edited_at,
    }));
    const last = entries[entries.length - 1];
    versions.push({
      text: message.text,
      label: S.history_current + (last ? " · " + editorName(last.editor) : ""),
      at: last ? last.edited_at : message.edited_at || message.created_at,
      current: true,
    });
    const list = node("ol", "versions");
    for (const version of versions) {
      const item = node("li", version.current ? "version current" : "version");
      item.append(node("span", "version-info", `${version.label} · ${longTime(version.at)}`));
      const text = node("span", "text");
      text.append(...linkify(version.text));
      item.append(text);
      list.append(item);
    }
    box.append(list);
    return box;
  }

  note(note) {
    const item = node("li", "note");
    item.dataset.noteId = note.id;
    item.append(node("span", "note-label", S.note));
    const text = node("span", "text");
    text.append(...linkify(note.text));
    item.append(text);
    const who = note.author === me.id ? S.you : managerName({ id: note.author });
    item.append(node("span", "info", `${who} · ${shortTime(note.created_at)}`));
    return item;
  }

  /** An attachment's element, made once per open ticket: redrawing the thread
      moves it rather than making it anew, so a player keeps playing and a
      picture is not fetched again. */
  attachment(thread, attachment, several) {
    const key = `${attachment.id}:${several}`;
    let element = thread.media.get(key);
    if (!element) {
      element = this.media.render(attachment, several);
      thread.media.set(key, element);
    }
    return element;
  }

  // ---- the contact panel ---------------------------------------------------------------

  renderContact() {
    const panel = el.contact;
    if (!panel) return;
    const thread = this.store.thread;
    const ticket = thread && this.store.tickets.get(thread.id);
    const user = ticket && ticket.user;
    panel.hidden = !user;
    if (!user) return;
    const rows = [];
    const add = (label, value) => {
      if (value === "" || value === null || value === undefined) return;
      const term = node("dt", "", label);
      const detail = node("dd");
      detail.append(value);
      rows.push(term, detail);
    };
    if (user.username) {
      const link = node("a", "username", "@" + user.username);
      link.href = `https://t.me/${encodeURIComponent(user.username)}`;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      add(S.contact_username, link);
    }
    if (user.language_code) {
      let language = user.language_code;
      try {
        const name = languageNames && languageNames.of(user.language_code);
        if (name && name !== user.language_code) language = `${name} (${user.language_code})`;
      } catch (error) {
        /* not a language tag the browser knows: as it is */
      }
      add(S.contact_language, language);
    }
    add(S.contact_telegram_id, String(user.telegram_id));
    if (user.first_contact_at) add(S.contact_first_contact, longFormat.format(new Date(user.first_contact_at)));
    $(".contact-name", panel).textContent = userName(user);
    $(".contact-details", panel).replaceChildren(...rows);
    const list = $(".contact-tickets", panel);
    const contact = this.store.contact;
    this.renderBlock(user, contact && contact.userId === user.telegram_id ? contact : null);
    const others = contact && contact.userId === user.telegram_id && contact.tickets
      ? contact.tickets.filter((t) => t.id !== thread.id) : null;
    if (others === null) {
      list.replaceChildren(node("li", "empty", S.loading));
      return;
    }
    if (!others.length) {
      list.replaceChildren(node("li", "empty", S.contact_no_other_tickets));
      return;
    }
    list.replaceChildren(...others.map((other) => {
      const item = node("li");
      const link = node("a");
      link.href = `#ticket-${other.id}`;
      link.dataset.contactTicket = other.id;
      link.append(node("span", "title", other.title));
      link.append(node("span", "meta", [
        `#${other.id}`, other.resolved ? S.resolved : S.open, shortTime(other.created_at),
      ].join(" · ")));
      item.append(link);
      return item;
    }));
  }

  /** The contact panel's block: the state and reason, Block (a form asking why) or Unblock. */
  renderBlock(user, contact) {
    el.block.hidden = !config.features.users;
    if (el.block.hidden) return;
    const known = contact && contact.block !== undefined;
    const blocked = known ? !!contact.block : !!user.blocked;
    el.block.classList.toggle("is-blocked", blocked);
    const state = [];
    if (blocked) {
      state.push(node("strong", "blocked-label", S.blocked));
      const block = known ? contact.block : null;
      if (block) {
        const date = longTime(block.blocked_at);
        const since = block.blocked_by === null || block.blocked_by === undefined
          ? fmt(S.blocked_since_date, { date })
          : fmt(S.blocked_since, { date, name: managerName(knownManager(this.store, block.blocked_by)) });
        state.push(node("span", "blocked-since", since));
        if (block.reason) state.push(node("span", "blocked-reason", fmt(S.blocked_reason, { reason: block.reason })));
      }
    }
    el.blockState.replaceChildren(...state);
    el.blockState.hidden = !blocked;
    const form = contact && contact.form;
    el.blockOpen.hidden = blocked || !!form;
    el.blockOpen.setAttribute("aria-expanded", String(!!form));
    el.unblock.hidden = !blocked;
    el.unblock.disabled = !!(contact && contact.busy);
    el.unblock.textContent = contact && contact.busy ? S.unblocking : S.unblock;
    el.blockForm.hidden = !form || blocked;
    el.blockReason.readOnly = !!(form && form.busy);
    el.blockSubmit.disabled = !!(form && form.busy);
    el.blockSubmit.textContent = form && form.busy ? S.blocking : S.block_submit;
    show(el.blockError, form ? form.error : "");
    show(el.blockActionError, contact ? contact.error : "");
  }

  // ---- the reply box ---------------------------------------------------------------------

  renderMode() {
    const thread = this.store.thread;
    const draft = thread && this.store.drafts.get(thread.id);
    const note = !!(draft && draft.note);
    if (el.note) el.note.checked = note;
    el.form.classList.toggle("as-note", note);
    el.text.placeholder = note ? S.note_placeholder : S.reply_placeholder;
    el.send.textContent = note ? S.save_note : S.send;
    el.attach.hidden = note;
  }

  renderFiles() {
    const store = this.store;
    const thread = store.thread;
    const draft = thread && store.drafts.get(thread.id);
    const files = draft && !draft.note ? draft.files : [];
    const busy = !!thread && store.uploading(thread.id);
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
      const size = this.media.size(entry.file.size);
      body.append(node("span", "chip-meta", entry.refused ? `${entry.refused.reason} · ${size}` : size));
      if (entry.refused) chip.title = entry.refused.text;
      const remove = node("button", "chip-remove", "×");
      remove.type = "button";
      remove.disabled = busy;
      remove.dataset.removeFile = entry.id;
      remove.setAttribute("aria-label", fmt(S.remove_file, { name: entry.name }));
      chip.append(body, remove);
      return chip;
    }));
    el.pending.hidden = files.length === 0;
    el.attach.disabled = busy;
  }

  renderProgress() {
    const store = this.store;
    const upload = store.upload;
    const active = !!store.thread && store.uploading(store.thread.id);
    el.progress.hidden = !active;
    el.counter.hidden = active;
    el.text.readOnly = active; // what is being sent is what the box shows
    if (!active) return;
    const total = upload.total || 0;
    el.progressBar.max = total || 1;
    el.progressBar.value = total ? upload.sent : 0;
    // All sent: the server is checking and storing the files.
    el.progressLabel.textContent = total && upload.sent >= total ? S.sending
      : fmt(S.uploading, { done: this.media.size(upload.sent), total: total ? this.media.size(total) : "…" });
  }

  renderCounter() {
    const used = el.text.value.length;
    const over = used - config.maxTextLength;
    const count = fmt(S.chars_left, { used, limit: config.maxTextLength });
    el.counter.textContent = over > 0 ? `${count} · ${fmt(S.too_long, { over })}` : count;
    el.counter.classList.toggle("over", over > 0);
  }

  /** The "/" list of saved replies under the reply box, filtered by what follows the "/". */
  renderPicker() {
    const picker = this.store.picker;
    const box = el.picker;
    if (!box) return;
    if (!picker) {
      box.hidden = true;
      el.text.removeAttribute("aria-activedescendant");
      el.text.setAttribute("aria-expanded", "false");
      return;
    }
    const items = pickerItems(this.store);
    const index = Math.min(picker.index, Math.max(0, items.length - 1));
    box.replaceChildren(...items.map((reply, n) => {
      const option = node("li", "picker-option");
      option.id = `saved-reply-${reply.id}`;
      option.setAttribute("role", "option");
      option.setAttribute("aria-selected", String(n === index));
      option.dataset.shortcut = reply.shortcut;
      option.append(node("span", "picker-shortcut", "/" + reply.shortcut), node("span", "picker-text", reply.text));
      return option;
    }));
    if (!items.length) {
      box.append(node("li", "empty", this.store.savedReplies ? S.no_saved_replies : S.loading));
    }
    box.hidden = false;
    el.text.setAttribute("aria-expanded", "true");
    if (items.length) {
      el.text.setAttribute("aria-activedescendant", `saved-reply-${items[index].id}`);
      const selected = box.children[index];
      if (selected && selected.scrollIntoView) selected.scrollIntoView({ block: "nearest" });
    } else {
      el.text.removeAttribute("aria-activedescendant");
    }
  }

  // ---- the top bar --------------------------------------------------------------------------

  renderAlerts() {
    const count = this.store.unseen.size;
    document.title = count ? `(${count}) ${baseTitle}` : baseTitle;
    if (!el.alerts) return;
    const on = this.store.alertsOn;
    const ask = on && "Notification" in window && Notification.permission === "default";
    el.alerts.setAttribute("aria-pressed", String(on));
    el.alerts.textContent = ask ? S.alerts_allow : on ? S.alerts_on : S.alerts_off;
  }

  renderConnection({ transport, status }) {
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
    if (status === "offline") this.notice(S.signed_out);
  }

  notice(text) {
    show(el.notice, text);
    if (text) setTimeout(() => { if (el.notice.textContent === text) show(el.notice, ""); }, 8000);
  }
}

const baseTitle = document.title;

/** A button (type=button) with a class, a text and a key that finds it again after a redraw. */
function button(className, text, key) {
  const element = node("button", className, text);
  element.type = "button";
  if (key) element.dataset.key = key;
  return element;
}

function matchesSearch(ticket, query) {
  if (!query) return true;
  if (/^\d+$/.test(query) && ticket.user && String(ticket.user.telegram_id) === query) return true;
  // As the server's search matches: the title, or the Telegram id.
  return ticket.title.toLowerCase().includes(query.toLowerCase());
}

/** The saved replies the picker offers: shortcut first, then text, matching the query. */
export function pickerItems(store) {
  const picker = store.picker;
  const all = store.savedReplies || [];
  if (!picker) return [];
  const q = picker.query.toLowerCase();
  const starts = all.filter((r) => r.shortcut.startsWith(q));
  const inside = all.filter((r) => !r.shortcut.startsWith(q)
    && (r.shortcut.includes(q) || r.text.toLowerCase().includes(q)));
  return [...starts, ...inside];
}
