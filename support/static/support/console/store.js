/* The console's state, all of it, and the only code that changes it.

   Every change, whether it comes from an answer to our own request or from
   the event stream, is applied here idempotently (a message or a note by its
   id, a ticket by its fields); the views are redrawn from it afterwards. So
   an event that arrives twice, or an answer and the event it caused, never
   shows twice.

   Answers can be overtaken: a ticket fetched before an event about it was
   applied would undo that event. The store keeps a clock that moves on with
   every event and every reset; a request notes the time it was sent
   (`store.now()`), and its answer is dropped for any ticket changed since
   (the caller may fetch again). */

import { EVENTS, SENDER, me } from "./config.js";

export const TABS = {
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

const TAB_KEY = "support-console-tab";
const ALERTS_KEY = `support-console-alerts-${me.id}`;
const STATS_KEY = "support-console-stats-days";
export const STATS_DAYS = [7, 30];

/** Whether *a* is as new as *b*: the later edit wins (never edited is oldest). */
function asNew(a, b) {
  return Date.parse(a.edited_at || 0) >= Date.parse(b.edited_at || 0);
}

export class Store {
  constructor(storage) {
    this.storage = storage;
    this.tickets = new Map(); // id -> ticket, as the API represents it, kept current by events
    this.changedAt = new Map(); // ticket id -> the clock when an event last changed it
    this.clock = 0;
    this.resetAt = 0; // the clock at the last reset: older answers are all dropped
    const tab = storage.getItem(TAB_KEY);
    this.tab = TABS[tab] ? tab : "unassigned";
    this.search = "";
    this.listed = 0; // how many of the current tab's server pages are loaded
    this.total = null; // the server's count for the current tab and search
    this.counts = {};
    // The open ticket: {id, messages: Map, notes: Map, first, total, media: Map,
    // deleted: Set (ids never shown again), editing: {id, busy, error} | null,
    // deleting: {id, busy, error} | null (the confirm), history: {id, entries | null, error} | null}.
    this.thread = null;
    // The open ticket's user: {userId, tickets: [ticket, ...] | null (loading),
    // block: undefined (not known yet) | null (not blocked) | {reason, blocked_by, blocked_at},
    // form: null | {busy, error} (the Block form is open), busy, error (Unblock)}.
    this.contact = null;
    this.view = "desk"; // or "stats"
    const days = Number(storage.getItem(STATS_KEY));
    // The stats page: {days, data (the last answer) | null, error, loading}.
    this.stats = { days: STATS_DAYS.includes(days) ? days : STATS_DAYS[0], data: null, error: "", loading: false };
    // ticket id -> {text, files, key, sent, note}: what was typed, the files to send
    // ({id, file, name, preview, refused}), the key it was sent with, and what it was;
    // note: the box writes a private note rather than a reply.
    this.drafts = new Map();
    this.upload = null; // the files being sent: {ticket (its id), controller, sent, total}
    this.savedReplies = null; // [{id, shortcut, text}, ...] once loaded
    this.picker = null; // the "/" list: {query, index}
    this.alertsOn = storage.getItem(ALERTS_KEY) !== "off";
    this.unseen = new Set(); // what alerted while the page was hidden ("t:1", "m:7")
    this.listeners = new Set();
  }

  // ---- change notification ---------------------------------------------------

  subscribe(listener) {
    this.listeners.add(listener);
  }

  /** Tell the views what changed: "list", "head" (the open ticket's), "thread" (its
      timeline, and the head), "counts", "contact", "files", "picker", "alerts",
      "view" (the desk or the stats page), "stats". */
  changed(...parts) {
    for (const listener of this.listeners) listener(new Set(parts));
  }

  // ---- the clock ---------------------------------------------------------------

  /** The time a request is sent at, for fresh(). */
  now() {
    return this.clock;
  }

  /** Whether an answer sent at *since* is as new as what we hold for ticket *id*. */
  fresh(id, since) {
    if (since < this.resetAt) return false;
    return (this.changedAt.get(id) || 0) <= since;
  }

  touch(id) {
    this.clock += 1;
    this.changedAt.set(id, this.clock);
  }

  // ---- tickets -------------------------------------------------------------------

  /**
   * A ticket as an answer (sent at *since*) or an event carries it. Returns
   * false when the answer was older than what we hold, and was dropped.
   */
  upsert(ticket, since = null) {
    if (since !== null && !this.fresh(ticket.id, since)) return false;
    const known = this.tickets.get(ticket.id);
    // Keep the newer last message: a list may be older than a message we applied.
    if (known && known.last_message && ticket.last_message
        && known.last_message.id > ticket.last_message.id) {
      ticket.last_message = known.last_message;
    }
    this.tickets.set(ticket.id, ticket);
    if (since === null) this.touch(ticket.id);
    this.syncContact(ticket);
    this.changed("list", "head", "contact");
    return true;
  }

  forget(id) {
    this.tickets.delete(id);
    this.changed("list", "head");
  }

  /** Changes a known ticket; false when it is not known (the caller fetches it). */
  patch(id, change) {
    const ticket = this.tickets.get(id);
    this.touch(id);
    if (!ticket) return false;
    change(ticket);
    this.syncContact(ticket);
    this.changed("list", "head", "contact");
    return true;
  }

  /** A user's profile changed: every ticket of theirs shows the new one. */
  updateUser(user) {
    for (const ticket of this.tickets.values()) {
      if (ticket.user && ticket.user.telegram_id === user.telegram_id) {
        ticket.user = Object.assign({}, ticket.user, user);
      }
    }
    if (this.contact && this.contact.userId === user.telegram_id && this.contact.tickets) {
      for (const ticket of this.contact.tickets) ticket.user = Object.assign({}, ticket.user, user);
    }
    this.clock += 1;
    this.changed("list", "head", "contact");
  }

  /** A user blocked or unblocked: every ticket of theirs, and the contact panel.
      Returns true when the panel must fetch the block's reason. */
  applyBlock(user, blocked) {
    this.updateUser(Object.assign({}, user, { blocked }));
    const contact = this.contact;
    if (!contact || contact.userId !== user.telegram_id) return false;
    if (!blocked) contact.block = null;
    else if (!contact.block) contact.block = undefined;
    this.changed("contact");
    return blocked && !contact.block;
  }

  /**
   * A new message: the queue's last message and unread count, and the open
   * thread. Returns "new" when it was not known before (for the alerts).
   */
  applyMessage(message) {
    const ticket = this.tickets.get(message.ticket);
    let fresh = false;
    this.touch(message.ticket);
    if (this.thread && this.thread.id === message.ticket && this.thread.deleted.has(message.id)) {
      this.changed("list", "thread");
      return { known: !!ticket, fresh: false };
    }
    if (ticket && (!ticket.last_message || message.id > ticket.last_message.id)) {
      fresh = true;
      ticket.last_message = message;
      if (message.sender === SENDER.user && !message.viewed) ticket.unread += 1;
    }
    const thread = this.thread;
    if (thread && thread.id === message.ticket) {
      const had = thread.messages.has(message.id);
      thread.messages.set(message.id, Object.assign(thread.messages.get(message.id) || {}, message));
      if (!had) {
        thread.total += 1;
        fresh = true;
      }
    }
    this.changed("list", "thread");
    return { known: !!ticket, fresh };
  }

  /** A message edited (its new text and edited_at), wherever it shows; an older
      version than the one held is dropped. */
  applyEdit(message) {
    const ticket = this.tickets.get(message.ticket);
    this.touch(message.ticket);
    if (ticket && ticket.last_message && ticket.last_message.id === message.id
        && asNew(message, ticket.last_message)) {
      ticket.last_message = Object.assign({}, ticket.last_message, message);
    }
    const thread = this.thread;
    if (thread && thread.id === message.ticket && !thread.deleted.has(message.id)) {
      const known = thread.messages.get(message.id);
      if (known && asNew(message, known)) Object.assign(known, message);
    }
    this.changed("list", "thread");
  }

  /** A message deleted: gone from the thread for good. Returns true when it was the
      ticket's last message (the ticket is fetched again for the one before). */
  applyDelete(ticketId, id) {
    const ticket = this.tickets.get(ticketId);
    this.touch(ticketId);
    const thread = this.thread;
    if (thread && thread.id === ticketId && !thread.deleted.has(id)) {
      thread.deleted.add(id);
      if (thread.messages.delete(id)) thread.total = Math.max(0, thread.total - 1);
      for (const part of ["editing", "deleting", "history"]) {
        if (thread[part] && thread[part].id === id) thread[part] = null;
      }
    }
    const last = !!ticket && !!ticket.last_message && ticket.last_message.id === id;
    if (last) {
      // Until the ticket is fetched again: the newest message the thread holds, else none.
      const held = thread && thread.id === ticketId
        ? Array.from(thread.messages.values()).sort((a, b) => b.id - a.id)[0] : null;
      ticket.last_message = held || null;
    }
    this.changed("list", "thread");
    return last;
  }

  /** The open thread's editor, delete confirm or history: *fields* (null closes). */
  setThreadState(thread, fields) {
    if (this.thread !== thread) return false;
    Object.assign(thread, fields);
    this.changed("thread");
    return true;
  }

  markViewed(ticketId, ids) {
    const thread = this.thread;
    if (!thread || thread.id !== ticketId) return;
    for (const id of ids) {
      const message = thread.messages.get(id);
      if (message) message.viewed = true;
    }
    this.changed("thread");
  }

  applyNote(note) {
    const thread = this.thread;
    if (!thread || thread.id !== note.ticket) return;
    thread.notes.set(note.id, note);
    this.changed("thread");
  }

  /**
   * An event from the stream. Returns what the wiring must do next:
   * {refresh: [ticket ids to fetch again], counts: bool, alert: {kind, ticket, message} | null}.
   */
  applyEvent(event) {
    const todo = { refresh: [], counts: true, alert: null };
    const need = (id) => todo.refresh.push(id);
    switch (event.type) {
      case EVENTS.ticket_created:
        this.upsert(event.ticket);
        todo.alert = { kind: "ticket", ticket: event.ticket };
        break;
      case EVENTS.ticket_updated:
        // The title (and the user with it); counts stay ours, as the event's are not.
        if (!this.patch(event.ticket.id, (t) => {
          t.title = event.ticket.title;
          if (event.ticket.user) t.user = event.ticket.user;
        })) need(event.ticket.id);
        break;
      case EVENTS.ticket_assigned:
        if (!this.patch(event.id, (t) => {
          const known = t.support_manager && t.support_manager.id === event.support_manager;
          if (!known) {
            t.support_manager = { id: event.support_manager };
            if (event.support_manager !== me.id) need(event.id); // for the name
          }
        })) need(event.id);
        break;
      case EVENTS.ticket_unassigned:
        if (!this.patch(event.id, (t) => { t.support_manager = null; })) need(event.id);
        break;
      case EVENTS.ticket_resolved:
        if (!this.patch(event.id, (t) => { t.resolved = true; })) need(event.id);
        break;
      case EVENTS.ticket_reopened:
        if (!this.patch(event.id, (t) => { t.resolved = false; })) need(event.id);
        break;
      case EVENTS.ticket_message_new: {
        const { known, fresh } = this.applyMessage(event.message);
        if (!known) need(event.message.ticket);
        const ticket = this.tickets.get(event.message.ticket);
        if (fresh && event.message.sender === SENDER.user) {
          todo.alert = { kind: "message", ticket: ticket || null, message: event.message };
        }
        todo.counts = false;
        break;
      }
      case EVENTS.ticket_messages_viewed:
        this.markViewed(event.ticket, event.ids);
        if (this.tickets.has(event.ticket)) need(event.ticket);
        todo.counts = false;
        break;
      case EVENTS.ticket_note_new:
        this.applyNote(event.note);
        todo.counts = false;
        break;
      case EVENTS.user_updated:
        this.updateUser(event.user);
        todo.counts = false;
        break;
      case EVENTS.ticket_message_edited:
        this.applyEdit(event.message);
        todo.counts = false;
        break;
      case EVENTS.ticket_message_deleted:
        if (this.applyDelete(event.ticket, event.id)) need(event.ticket);
        todo.counts = false;
        break;
      case EVENTS.ticket_rated:
        if (!this.patch(event.ticket, (t) => { t.rating = event.rating; })) need(event.ticket);
        todo.counts = false;
        break;
      case EVENTS.user_blocked:
      case EVENTS.user_unblocked:
        // The open tickets' resolutions come as their own events.
        if (this.applyBlock(event.user, event.type === EVENTS.user_blocked)) {
          todo.block = event.user.telegram_id;
        }
        todo.counts = false;
        break;
      default:
        todo.counts = false; // a newer server's event type: nothing to show for it
    }
    return todo;
  }

  /** After a stream reset: nothing held is trusted; answers sent before now are dropped. */
  reset() {
    this.clock += 1;
    this.resetAt = this.clock;
    this.tickets.clear();
    this.changedAt.clear();
    const open = this.thread && this.thread.id;
    this.thread = null;
    this.contact = null;
    this.changed("list", "thread", "contact");
    return open;
  }

  // ---- the list ------------------------------------------------------------------

  selectTab(name) {
    if (!TABS[name]) return false;
    this.tab = name;
    this.storage.setItem(TAB_KEY, name);
    this.changed("list");
    return true;
  }

  setSearch(text) {
    this.search = text;
    this.changed("list");
  }

  listStarted(more) {
    if (!more) {
      this.listed = 0;
      this.total = null;
    }
  }

  listLoaded(tickets, total, since) {
    for (const ticket of tickets) this.upsert(ticket, since);
    this.listed += tickets.length;
    this.total = total;
    this.changed("list");
  }

  setCount(name, count) {
    this.counts[name] = count;
  }

  // ---- the open ticket -------------------------------------------------------------

  openThread(id) {
    this.thread = {
      id, messages: new Map(), notes: new Map(), first: 0, total: 0, media: new Map(),
      deleted: new Set(), editing: null, deleting: null, history: null,
    };
    this.picker = null;
    this.changed("list", "thread", "files", "contact");
    return this.thread;
  }

  closeThread() {
    this.thread = null;
    this.contact = null;
    this.picker = null;
    this.changed("list", "thread", "files", "contact");
  }

  threadLoaded(thread, messages, { total, first }) {
    if (this.thread !== thread) return false;
    for (const m of messages) {
      if (!thread.messages.has(m.id) && !thread.deleted.has(m.id)) thread.messages.set(m.id, m);
    }
    if (total !== undefined) thread.total = Math.max(total, thread.messages.size);
    if (first !== undefined) thread.first = first;
    this.changed("thread");
    return true;
  }

  notesLoaded(thread, notes) {
    if (this.thread !== thread) return false;
    for (const note of notes) thread.notes.set(note.id, note);
    this.changed("thread");
    return true;
  }

  // ---- the contact panel --------------------------------------------------------------

  contactFor(userId) {
    if (!this.contact || this.contact.userId !== userId) {
      this.contact = { userId, tickets: null, block: undefined, form: null, busy: false, error: "" };
    }
    this.changed("contact");
    return this.contact;
  }

  contactLoaded(contact, tickets) {
    if (this.contact !== contact) return;
    contact.tickets = tickets.map((t) => this.tickets.get(t.id) || t);
    this.changed("contact");
  }

  /** The contact panel's block (an answer of GET users/{id}/ or a block/unblock),
      its form, or its Unblock button's state: *fields*. */
  setContact(contact, fields) {
    if (this.contact !== contact) return false;
    Object.assign(contact, fields);
    this.changed("contact");
    return true;
  }

  /** A ticket of the contact's user changed: its row in the panel follows. */
  syncContact(ticket) {
    const contact = this.contact;
    if (!contact || !contact.tickets || !ticket.user || ticket.user.telegram_id !== contact.userId) return;
    const index = contact.tickets.findIndex((t) => t.id === ticket.id);
    if (index >= 0) contact.tickets[index] = ticket;
    else contact.tickets.unshift(ticket);
  }

  // ---- drafts ---------------------------------------------------------------------------

  /** The draft of ticket *id*, made (and kept) if it has none. */
  draftOf(id) {
    let draft = this.drafts.get(id);
    if (!draft) {
      draft = { text: "", files: [], note: false };
      this.drafts.set(id, draft);
    }
    return draft;
  }

  saveText(id, text) {
    const draft = this.draftOf(id);
    draft.text = text;
    if (!draft.text && !draft.files.length && !draft.note) this.drafts.delete(id);
  }

  dropDraft(id, forget) {
    const draft = this.drafts.get(id);
    if (draft) for (const entry of draft.files) forget(entry);
    const note = !!(draft && draft.note);
    this.drafts.delete(id);
    if (note) this.draftOf(id).note = true; // the toggle stays where the manager put it
    this.changed("files");
  }

  setNoteMode(id, on) {
    this.draftOf(id).note = on;
    this.changed("files");
  }

  /** Whether ticket *id*'s draft is being uploaded (it is sent as it was). */
  uploading(id) {
    return !!this.upload && this.upload.ticket === id;
  }

  setUpload(upload) {
    this.upload = upload;
    this.changed("files");
  }

  // ---- saved replies --------------------------------------------------------------------

  setSavedReplies(list) {
    this.savedReplies = list;
    this.changed("picker");
  }

  setPicker(picker) {
    this.picker = picker;
    this.changed("picker");
  }

  // ---- the stats page --------------------------------------------------------------------

  showView(name) {
    if (this.view === name) return;
    this.view = name;
    this.changed("view");
  }

  setStats(fields) {
    Object.assign(this.stats, fields);
    if (fields.days) this.storage.setItem(STATS_KEY, String(fields.days));
    this.changed("stats");
  }

  // ---- alerts ---------------------------------------------------------------------------

  setAlerts(on) {
    this.alertsOn = on;
    this.storage.setItem(ALERTS_KEY, on ? "on" : "off");
    this.changed("alerts");
  }

  addUnseen(key) {
    this.unseen.add(key);
    this.changed("alerts");
  }

  clearUnseen() {
    if (!this.unseen.size) return;
    this.unseen.clear();
    this.changed("alerts");
  }
}
